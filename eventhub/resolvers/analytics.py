"""Analytics for an event's organizer, organizers across their events, and admins."""

from __future__ import annotations

from datetime import datetime

from eventhub.global_ids import decode_id
from eventhub.models import Event, TicketType
from eventhub.resolvers.context import RequestContext
from eventhub.resolvers.outcomes import BadUserInput
from eventhub.services import access, analytics, events
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


async def event_totals(
    ctx: RequestContext, event: Event, start: datetime | None, end: datetime | None
) -> analytics.Totals:
    return await analytics.totals(ctx.session, event.id or 0, start, end)


async def tier_sales(
    ctx: RequestContext, event: Event, start: datetime | None, end: datetime | None
) -> list[tuple[TicketType, int, int]]:
    """Every tier of the event in display order, with (sold, revenue in minor units)."""
    sales = {
        s.ticket_type_id: s
        for s in await analytics.by_ticket_type(ctx.session, event.id or 0, start, end)
    }
    tiers = await events.list_ticket_types(ctx.session, event.id or 0)
    return [
        (t, sales[t.id].sold, sales[t.id].revenue_minor) if t.id in sales else (t, 0, 0)
        for t in tiers
    ]


async def sales_over_time(
    ctx: RequestContext,
    event: Event,
    bucket: str,
    start: datetime | None,
    end: datetime | None,
) -> list[analytics.Bucket]:
    if bucket not in ("hour", "day"):
        raise BadUserInput('bucket must be "hour" or "day"')
    return await analytics.sales_over_time(ctx.session, event.id or 0, bucket, start, end)


async def age_bands(ctx: RequestContext, event: Event) -> list[tuple[str, int]]:
    return await analytics.age_bands(ctx.session, event.id or 0)


async def countries(ctx: RequestContext, event: Event) -> list[tuple[str, int]]:
    return await analytics.countries(ctx.session, event.id or 0)


async def promo_code_uses(
    ctx: RequestContext, event: Event, start: datetime | None, end: datetime | None
) -> list[tuple[str, int]]:
    return await analytics.promo_code_uses(ctx.session, event.id or 0, start, end)


async def users_by_role(ctx: RequestContext) -> list[tuple[str, int]]:
    return await analytics.users_by_role(ctx.session)


async def top_events(ctx: RequestContext) -> list[tuple[Event, int]]:
    """The best-selling events with tickets sold; an event gone since is left out."""
    best = await analytics.top_events(ctx.session)
    rows = await ctx.loaders.event.load_many([event_id for event_id, _ in best])
    return [(row, sold) for row, (_, sold) in zip(rows, best, strict=True) if row is not None]
