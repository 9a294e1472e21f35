"""The signed-in viewer of a plain HTTP route (QR images, uploads), from its Bearer token."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request

from eventhub.auth.viewer import bearer_token, resolve_viewer
from eventhub.services import audit
from eventhub.web.app_state import AppState


async def request_actor(request: Request, state: AppState, session: AsyncSession) -> audit.Actor:
    token = bearer_token(request.headers.get("authorization"))
    viewer = await resolve_viewer(session, state.codec, token)
    client = request.client.host if request.client else None
    return audit.Actor(viewer.user_id, client, viewer.roles)
