"""GET /tickets/{ticketId}/qr: the ticket's QR code as SVG (default) or PNG.

Only the buyer, the event's organizer and admins get it; everyone else gets
404, so ticket ids cannot be probed. segno's mask search costs ~15 ms, so
each image is rendered once per process and served with a strong ETag.
"""

from __future__ import annotations

import hashlib
import io
from functools import lru_cache

import segno
from starlette.requests import Request
from starlette.responses import Response

from eventhub.global_ids import decode_id
from eventhub.services import tickets
from eventhub.web.viewer import request_actor

MEDIA_TYPES = {"svg": "image/svg+xml", "png": "image/png"}


@lru_cache(maxsize=2048)
def render_qr(token: str, kind: str) -> bytes:
    code = segno.make(token, error="m", micro=False)
    buffer = io.BytesIO()
    if kind == "svg":
        code.save(buffer, kind="svg", scale=4, border=4, xmldecl=False, title="EventHub ticket")
    else:
        code.save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


async def ticket_qr(request: Request) -> Response:
    kind = request.query_params.get("format", "svg").lower()
    if kind not in MEDIA_TYPES:
        return Response("format must be svg or png\n", status_code=400, media_type="text/plain")
    state = request.app.state.eventhub
    ticket_pk = decode_id(request.path_params["ticket_id"], "Ticket")
    async with state.session_factory() as session:
        actor = await request_actor(request, state, session)
        ticket = await tickets.viewable_ticket(session, ticket_pk, actor) if ticket_pk else None
    if ticket is None or ticket.id is None:
        return Response("not found\n", status_code=404, media_type="text/plain")
    token = state.signer.sign(ticket.id, ticket.event_id)
    etag = '"' + hashlib.sha256(f"{kind}:{token}".encode()).hexdigest()[:32] + '"'
    headers = {"ETag": etag, "Cache-Control": "private, max-age=86400"}
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    return Response(render_qr(token, kind), media_type=MEDIA_TYPES[kind], headers=headers)
