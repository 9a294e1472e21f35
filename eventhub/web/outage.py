"""The answer while the database is unreachable: HTTP 503, `Retry-After`, code UNAVAILABLE.

GraphQL requests get it from the view (`unavailable_response`), once their
errors say UNAVAILABLE; every other route (QR codes, images, the Stripe
webhook, which Stripe then retries) gets it from `DatabaseOutageMiddleware`,
which turns an escaping outage error into the same answer instead of a 500
and a stack trace. Each such answer is counted for the "database back" line.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from eventhub.models.outage import RETRY_AFTER_SECONDS, DatabaseGate, is_outage

UNAVAILABLE = "UNAVAILABLE"
MESSAGE = "the database is unreachable; retry shortly"


def says_unavailable(response_data: Any) -> bool:
    """True when a GraphQL response (or any result of a batch) carries an UNAVAILABLE error."""
    results = response_data if isinstance(response_data, list) else [response_data]
    return any(
        (error.get("extensions") or {}).get("code") == UNAVAILABLE
        for result in results
        if isinstance(result, dict)
        for error in result.get("errors") or []
    )


def retry_headers() -> dict[str, str]:
    return {"retry-after": str(RETRY_AFTER_SECONDS)}


class DatabaseOutageMiddleware:
    def __init__(self, app: ASGIApp, gate: DatabaseGate) -> None:
        self.app = app
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as error:
            if started or not is_outage(error):
                raise
            self.gate.report(error)
            self.gate.refused()
            await _send_unavailable(send)


async def _send_unavailable(send: Send) -> None:
    body = json.dumps({"errors": [{"message": MESSAGE, "extensions": {"code": UNAVAILABLE}}]})
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(RETRY_AFTER_SECONDS).encode()),
    ]
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body.encode()})
