"""Liveness and readiness for orchestrators."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse

from eventhub.web.outage import retry_headers


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """200 only while the database answers, within two seconds; 503 at once during an outage.

    `redis` in the body is "ok", "degraded" (unreachable: limits kept per process) or
    "off" (not configured); it never changes the status, the database alone does.

    `outage` in the body says whether this worker has shut its gate (answers 503 at
    once) or only saw this check fail.
    """
    state = request.app.state.eventhub
    if state.gate.down:
        return _unavailable(state.gate.reason, outage=True)
    try:
        async with state.session_factory() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=2)
    except Exception as error:
        return _unavailable(type(error).__name__, outage=False)
    redis = state.redis.status if state.redis is not None else "off"
    return JSONResponse({"status": "ok", "database": "ok", "redis": redis})


def _unavailable(reason: str, *, outage: bool) -> JSONResponse:
    body = {"status": "unavailable", "database": "unreachable", "outage": outage, "reason": reason}
    return JSONResponse(body, 503, headers=retry_headers())
