"""EVENTHUB_RATE_LIMIT: requests per user (or per client IP when anonymous), per worker.

A GCRA limiter (a token bucket kept as one timestamp per client): a client may
burst up to the whole allowance, then gets one request per `period / requests`.
Over the limit the answer is HTTP 429 with `Retry-After` and a GraphQL-shaped
body whose `extensions.code` is RATE_LIMITED, so GraphQL clients handle it like
any other error.

The state lives in each worker process: with N workers a client whose requests
land on several of them may get up to N times the allowance. That keeps the
limiter off the database (no extra round trip on the booking path) while still
stopping floods; a limit shared across hosts belongs in the proxy in front.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from eventhub.auth.access_tokens import AccessTokenCodec, InvalidAccessToken
from eventhub.auth.viewer import bearer_token

# Machines, probes and Stripe are not clients to throttle.
EXEMPT_PREFIXES = ("/healthz", "/readyz", "/metrics", "/webhooks/")
PRUNE_EVERY = 10_000  # checks between sweeps of idle clients
CHARGE_KEY = "eventhub_rate_charge"  # scope state: charge one more request, None or seconds to wait


class RateLimiter:
    """Generic cell rate algorithm; `check` is O(1) and needs no lock in one event loop."""

    def __init__(
        self, requests: int, period: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._interval = period / requests
        self._period = period
        self._clock = clock
        self._ready_at: dict[str, float] = {}  # when the client's bucket is full again
        self._checks = 0

    def check(self, key: str) -> float | None:
        """None when the request may pass; else the seconds to wait."""
        now = self._clock()
        self._checks += 1
        if self._checks % PRUNE_EVERY == 0:
            self._prune(now)
        ready_at = max(self._ready_at.get(key, now), now) + self._interval
        if ready_at - now > self._period:
            return ready_at - now - self._period
        self._ready_at[key] = ready_at
        return None

    def _prune(self, now: float) -> None:
        self._ready_at = {k: t for k, t in self._ready_at.items() if t > now}


def client_key(scope: Scope, codec: AccessTokenCodec) -> str:
    """`user:<id>` for a valid access token, else `ip:<address>`."""
    token = bearer_token(Headers(scope=scope).get("authorization"))
    if token:
        try:
            return f"user:{codec.decode(token).user_id}"
        except InvalidAccessToken:
            pass  # the request fails later with UNAUTHENTICATED; count it by address
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter, codec: AccessTokenCodec) -> None:
        self.app = app
        self.limiter = limiter
        self.codec = codec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        key = client_key(scope, self.codec)
        wait = self.limiter.check(key)
        # A batched request charges its further operations itself (graphql_http.py).
        scope.setdefault("state", {})[CHARGE_KEY] = lambda: self.limiter.check(key)
        if wait is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013, "reason": "rate limited"})
        else:
            await _too_many_requests(send, wait)


def rate_limited_error(wait: float) -> dict[str, object]:
    retry_after = max(1, math.ceil(wait))
    return {
        "message": f"too many requests; try again in {retry_after} s",
        "extensions": {"code": "RATE_LIMITED", "retryAfter": retry_after},
    }


async def _too_many_requests(send: Send, wait: float) -> None:
    retry_after = max(1, math.ceil(wait))
    body = json.dumps({"data": None, "errors": [rate_limited_error(wait)]}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
