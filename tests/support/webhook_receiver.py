"""A real HTTP receiver for webhooks, on a local socket, verifying what it gets.

Every request is checked with the `standardwebhooks` library against the secret
registered for its path (`expect`), and recorded: the webhook-id, the parsed
payload, whether the signature verified. Tests steer the answers per path with
`plan`: "ok" (204), "500", "redirect" (302 elsewhere), "timeout" (no answer for a
long while) and "slow" (200 whose body trickles in over seconds); once a plan runs out
the path answers "ok". It runs in a thread of its own, so a test may block while a separate
`eventhub serve` process delivers to it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks import Webhook, WebhookVerificationError


@dataclass(frozen=True)
class Received:
    path: str
    webhook_id: str
    payload: Any
    verified: bool
    headers: dict[str, str]
    answered: str


class WebhookReceiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.secrets: dict[str, list[str]] = {}
        self.plans: dict[str, deque[str]] = defaultdict(deque)
        self.hang_seconds = 30.0
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def expect(self, path: str, *secrets: str) -> str:
        """Verify requests to `path` with these secrets (any one may match); its URL."""
        self.secrets[path] = list(secrets)
        return self.base_url + path

    def plan(self, path: str, *answers: str) -> None:
        self.plans[path].extend(answers)

    def at(self, path: str) -> list[Received]:
        with self.lock:
            return [r for r in self.received if r.path == path]

    def wait_for(self, count: int, path: str | None = None, within: float = 20.0) -> list[Received]:
        """Block until `count` verified requests arrived (at `path`), or fail."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self.lock:
                got = [r for r in self.received if path is None or r.path == path]
            if len([r for r in got if r.answered == "ok"]) >= count:
                return got
            time.sleep(0.05)
        raise AssertionError(f"{len(got)} webhooks arrived, {count} awaited: {got}")

    async def arrived(
        self, count: int, path: str | None = None, within: float = 20.0
    ) -> list[Received]:
        """`wait_for` for tests whose event loop runs the deliverer: it must not block."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            with self.lock:
                got = [r for r in self.received if path is None or r.path == path]
            if len([r for r in got if r.answered == "ok"]) >= count:
                return got
            await asyncio.sleep(0.05)
        raise AssertionError(f"{len(got)} webhooks arrived, {count} awaited: {got}")

    def _verify(self, path: str, body: bytes, headers: dict[str, str]) -> tuple[Any, bool]:
        for secret in self.secrets.get(path, []):
            try:
                return Webhook(secret).verify(body, headers), True
            except WebhookVerificationError:
                continue
        return None, False

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                payload, verified = receiver._verify(self.path, body, headers)
                with receiver.lock:
                    plan = receiver.plans[self.path]
                    answer = plan.popleft() if plan else "ok"
                    receiver.received.append(
                        Received(
                            self.path,
                            headers.get("webhook-id", ""),
                            payload,
                            verified,
                            headers,
                            answer,
                        )
                    )
                self._answer(answer if verified else "401")

            def _answer(self, answer: str) -> None:
                if answer == "timeout":
                    time.sleep(receiver.hang_seconds)
                    return
                if answer == "slow":
                    self.send_response(200)
                    self.send_header("content-length", "100")
                    self.end_headers()
                    for _ in range(100):
                        self.wfile.write(b".")
                        self.wfile.flush()
                        time.sleep(0.2)
                    return
                status = {"ok": 204, "500": 500, "401": 401, "redirect": 302}.get(answer, 500)
                text = b"" if status == 204 else f"answer {answer}".encode()
                self.send_response(status)
                if status == 302:
                    self.send_header("location", receiver.base_url + self.path + "/moved")
                self.send_header("content-length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

        return Handler
