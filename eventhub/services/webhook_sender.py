"""One signed POST to one endpoint, per the Standard Webhooks specification.

Headers `webhook-id` (the message's id, the same on every retry),
`webhook-timestamp` (this attempt) and `webhook-signature` (`v1,<base64 HMAC-SHA256>`
of "id.timestamp.body", signed by the `standardwebhooks` library; during a secret
rotation one signature per valid secret, space-separated). Redirects are never
followed, the connection goes to the address that was checked, and the whole
attempt (connect, send, response head and excerpt) is bounded by one time limit.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass
from datetime import datetime

import httpx
from standardwebhooks import Webhook

from eventhub.services.webhook_addresses import Target, UnsafeAddress, parse_url, resolve

EXCERPT_BYTES = 500
EXCERPT_SECONDS = 1.0
USER_AGENT = "EventHub-Webhooks/1"
_TLS = ssl.create_default_context()


@dataclass(frozen=True)
class AttemptResult:
    status_code: int | None
    latency_ms: int
    excerpt: str | None
    error: str | None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def signature_header(secrets: list[str], msg_id: str, at: datetime, body: bytes) -> str:
    return " ".join(Webhook(secret).sign(msg_id, at, body) for secret in secrets)


def signed_headers(secrets: list[str], msg_id: str, at: datetime, body: bytes) -> dict[str, str]:
    return {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature_header(secrets, msg_id, at, body),
    }


class WebhookSender:
    """Keeps no connection alive between sends: each goes to a freshly checked address."""

    def __init__(self, allow_private: bool, timeout: float) -> None:
        self.allow_private = allow_private
        self.timeout = timeout
        self.client = httpx.AsyncClient(
            verify=_TLS,
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_keepalive_connections=0),
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def post(self, url: str, headers: dict[str, str], body: bytes) -> AttemptResult:
        started = time.perf_counter()

        def result(status: int | None, excerpt: str | None, error: str | None) -> AttemptResult:
            latency = int((time.perf_counter() - started) * 1000)
            return AttemptResult(status, latency, excerpt, error)

        try:
            target = parse_url(url, self.allow_private)
            async with asyncio.timeout(self.timeout):  # until the answer's status line
                address = await resolve(target, self.allow_private)
                response = await self._open(target, address, headers, body)
        except TimeoutError:
            return result(None, None, f"no answer within {self.timeout:g} s")
        except UnsafeAddress as error:
            return result(None, None, str(error))
        except Exception as error:  # connection refused, TLS, a URL no longer allowed
            return result(None, None, f"{type(error).__name__}: {error}"[:300])
        try:
            excerpt = await self._excerpt(response)
        finally:
            await response.aclose()
        status = response.status_code
        return result(status, excerpt, None if 200 <= status < 300 else f"HTTP {status}")

    async def _open(
        self, target: Target, address: str, headers: dict[str, str], body: bytes
    ) -> httpx.Response:
        """POST to the checked address; Host and TLS name (SNI, certificate) are the URL's."""
        netloc = f"[{address}]" if ":" in address else address
        default_port = 443 if target.scheme == "https" else 80
        host = target.host if target.port == default_port else f"{target.host}:{target.port}"
        extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
        request = self.client.build_request(
            "POST",
            f"{target.scheme}://{netloc}:{target.port}{target.path}",
            content=body,
            headers={**headers, "host": host},
            extensions=extensions,
        )
        return await self.client.send(request, stream=True)

    async def _excerpt(self, response: httpx.Response) -> str:
        """The start of the answer, read for at most EXCERPT_SECONDS: its status already
        decided the outcome, and a body that trickles in must not hold the attempt."""
        excerpt = bytearray()
        with contextlib.suppress(TimeoutError, httpx.HTTPError):
            async with asyncio.timeout(EXCERPT_SECONDS):
                async for chunk in response.aiter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= EXCERPT_BYTES:
                        break
        return bytes(excerpt[:EXCERPT_BYTES]).decode("utf-8", "replace")
