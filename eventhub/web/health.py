"""Liveness and readiness for orchestrators."""

from __future__ import annotations

import asyncio

from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import JSONResponse


async def healthz(_request: Request) -> JSONResponse:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> JSONResponse:
    """200 only while the database answers, within two seconds."""
    factory = request.app.state.eventhub.session_factory
    try:
        async with factory() as session:
            await asyncio.wait_for(session.execute(text("SELECT 1")), timeout=2)
    except Exception as error:
        return JSONResponse({"status": "unavailable", "reason": type(error).__name__}, 503)
    return JSONResponse({"status": "ok"})
