"""EVENTHUB_MAX_BODY_BYTES: an oversized request body is refused with 413 before it is read.

A stranger's 20 MB JSON body used to be read in full and parsed (+140 MiB of
memory). This pure ASGI middleware, in front of every route (GraphQL, the
Stripe webhook, everything), keeps what one request can make a worker hold to
the cap:

- a declared `Content-Length` over the cap is answered at once, without one
  call to `receive`: uvicorn stops reading a socket once 64 KiB wait unread,
  so the rest of the body stays with the client;
- a body without a declared length (chunked) is counted as it streams through
  `receive`: the first chunk past the cap ends the request, so the app sees
  at most the cap plus one chunk.

A body must also arrive within EVENTHUB_HTTP_BODY_TIMEOUT seconds of the
request's start, or the request is answered 408 (a client trickling its body
would otherwise hold a task and its buffers for as long as it likes).

A multipart upload (`Upload`) may carry EVENTHUB_MAX_UPLOAD_BYTES plus room
for the form's other parts (`operations`, `map`, part headers); its file is
checked against the upload cap on its own where it is stored.

The answer is a request-level GraphQL error, as the contract shapes them:
`{"errors": [{"message": ..., "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]}`
(`REQUEST_TIMEOUT` for the deadline). Under `eventhub serve` the unread rest
of the body is then drained and dropped for a few seconds, so that a client
still writing it reads the answer rather than a reset (`http_protocol.py`).
"""

from __future__ import annotations

import asyncio
import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPART_OVERHEAD = 65_536  # bytes for a multipart form's parts beside its file


class BodyRefused(Exception):
    """Raised from `receive`; the middleware answers with the status and code."""

    def __init__(self, status: int, code: str, message: str, **extensions: object) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.extensions = status, code, message, extensions

    @classmethod
    def too_large(cls, limit: int) -> BodyRefused:
        message = f"the request body is larger than {limit} bytes"
        return cls(413, "PAYLOAD_TOO_LARGE", message, maxBytes=limit)

    @classmethod
    def too_slow(cls, seconds: float) -> BodyRefused:
        return cls(408, "REQUEST_TIMEOUT", f"the request body did not arrive within {seconds:g} s")


class BodyLimitMiddleware:
    def __init__(
        self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int, body_timeout: float
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes
        self.body_timeout = body_timeout

    def limit_for(self, headers: Headers) -> int:
        """The cap for this request: the upload cap for multipart forms, else the body cap."""
        if headers.get("content-type", "").lower().startswith("multipart/form-data"):
            return max(self.max_body_bytes, self.max_upload_bytes + MULTIPART_OVERHEAD)
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        limit = self.limit_for(headers)
        declared = declared_length(headers)
        if declared is not None and declared > limit:
            await refuse(send, BodyRefused.too_large(limit))
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, self.guarded_receive(receive, limit), tracking_send)
        except BodyRefused as refusal:
            if not started:  # else too late to answer: uvicorn drops the unfinished response
                await refuse(send, refusal)

    def guarded_receive(self, receive: Receive, limit: int) -> Receive:
        """`receive` that hands over at most `limit` body bytes, all before the deadline."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.body_timeout
        received, complete = 0, False

        async def counting_receive() -> Message:
            nonlocal received, complete
            if complete:  # the body is in: what is left to wait for is the disconnect
                return await receive()
            try:
                async with asyncio.timeout_at(deadline):
                    message = await receive()
            except TimeoutError:
                raise BodyRefused.too_slow(self.body_timeout) from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyRefused.too_large(limit)
                complete = not message.get("more_body", False)
            return message

        return counting_receive


def declared_length(headers: Headers) -> int | None:
    """The Content-Length the client declared, or None (chunked, or not a plain number)."""
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


async def refuse(send: Send, refusal: BodyRefused) -> None:
    """The contract's request-level error."""
    error = {"message": refusal.message, "extensions": {"code": refusal.code, **refusal.extensions}}
    body = json.dumps({"errors": [error]}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
    ]
    await send({"type": "http.response.start", "status": refusal.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
