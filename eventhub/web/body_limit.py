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

A multipart upload (`Upload`) may carry EVENTHUB_MAX_UPLOAD_BYTES plus room
for the form's other parts (`operations`, `map`, part headers); its file is
checked against the upload cap on its own where it is stored.

The answer is a request-level GraphQL error, as the contract shapes them:
`{"errors": [{"message": ..., "extensions": {"code": "PAYLOAD_TOO_LARGE"}}]}`,
with `Connection: close`, since the unread rest of the body cannot be skipped.
"""

from __future__ import annotations

import json

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

MULTIPART_OVERHEAD = 65_536  # bytes for a multipart form's parts beside its file


class BodyTooLarge(Exception):
    """Raised from `receive` once a streamed body passes the cap; the middleware answers 413."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int, max_upload_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_upload_bytes = max_upload_bytes

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
            await payload_too_large(send, limit)
            return
        await self._counted(scope, receive, send, limit)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
        """Run the app with a `receive` that refuses to hand over more than `limit` bytes."""
        received = 0
        started = False

        async def counting_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise BodyTooLarge
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except BodyTooLarge:
            if not started:  # else too late for a 413: uvicorn drops the unfinished response
                await payload_too_large(send, limit)


def declared_length(headers: Headers) -> int | None:
    """The Content-Length the client declared, or None (chunked, or not a plain number)."""
    value = headers.get("content-length", "").strip()
    return int(value) if value.isdigit() else None


async def payload_too_large(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "errors": [
                {
                    "message": f"the request body is larger than {limit} bytes",
                    "extensions": {"code": "PAYLOAD_TOO_LARGE", "maxBytes": limit},
                }
            ]
        }
    ).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": 413, "headers": headers})
    await send({"type": "http.response.body", "body": body})
