"""GET /events/{eventId}/image: the uploaded image of an event anyone may see."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response

from eventhub.global_ids import decode_id
from eventhub.services import access, events
from eventhub.services.event_images import MEDIA_TYPES
from eventhub.web.viewer import request_actor


async def event_image(request: Request) -> Response:
    state = request.app.state.eventhub
    pk = decode_id(request.path_params["event_id"], "Event")
    async with state.session_factory() as session:
        event = await events.get_event(session, pk) if pk is not None else None
        actor = await request_actor(request, state, session)
    if event is None or not event.image_path or not access.may_see_event(actor, event):
        return Response("not found\n", status_code=404, media_type="text/plain")
    path = (state.settings.upload_dir / event.image_path).resolve()
    if not path.is_file() or state.settings.upload_dir.resolve() not in path.parents:
        return Response("not found\n", status_code=404, media_type="text/plain")
    media = MEDIA_TYPES.get(path.suffix.lstrip("."), "application/octet-stream")
    return FileResponse(path, media_type=media, headers={"Cache-Control": "public, max-age=3600"})
