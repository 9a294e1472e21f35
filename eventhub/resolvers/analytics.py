"""Analytics for an event's organizer, organizers across their events, and admins."""

from __future__ import annotations

from datetime import datetime

from eventhub.models import Event
from eventhub.resolvers.context import RequestContext
from eventhub.resolvers.ids import decode_id
from eventhub.services import access, analytics
from eventhub.services.errors import PermissionDenied


async def analysed_event(ctx: RequestContext, event_id: str) -> Event:
    """The event, if the viewer organizes it or is an admin (others learn nothing)."""
    pk = decode_id(event_id, "Event")
    event = await ctx.loaders.event.load(pk) if pk is not None else None
    actor = await ctx.actor()
    if event is None or not access.may_manage_event(actor, event):
        raise PermissionDenied("no such event among yours")
    return event


async def organizer_totals(
    ctx: RequestContext, start: datetime | None, end: datetime | None
) -> analytics.OrganizerTotals:
    actor = await ctx.actor()
    return await analytics.organizer_totals(ctx.session, actor.user_id, start, end)


async def platform_totals(
    ctx: RequestContext, start: datetime | None, end: datetime | None
) -> analytics.OrganizerTotals:
    return await analytics.organizer_totals(ctx.session, None, start, end)
