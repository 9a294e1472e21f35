"""Events: organizer management and public browsing."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from eventhub.cursors import decode_cursor, encode_cursor
from eventhub.global_ids import decode_id, parse_pk
from eventhub.models import Event
from eventhub.resolvers.context import RequestContext
from eventhub.resolvers.outcomes import BadUserInput, Result, attempt
from eventhub.resolvers.paging import page_size
from eventhub.services import access, event_images, event_listings, events
from eventhub.services.errors import NotFound
from eventhub.services.pagination import Page
from eventhub.services.promos import NewPromoCode


def event_cursor(event: Event) -> str:
    return encode_cursor("ev", event.starts_at.isoformat(), event.id)


def _after(after: str | None) -> event_listings.EventKey | None:
    if after is None:
        return None
    parts = decode_cursor(after, 3)
    try:
        pk = parse_pk(parts[2]) if parts is not None and parts[0] == "ev" else None
        if parts is None or pk is None:
            raise ValueError
        starts_at = datetime.fromisoformat(parts[1])
        if starts_at.tzinfo is None:
            raise ValueError
        return starts_at.astimezone(UTC), pk
    except (ValueError, OverflowError):
        raise BadUserInput("`after` is not a cursor from this connection") from None


def _event_pk(event_id: str, field: str = "id") -> int:
    pk = decode_id(event_id, "Event")
    if pk is None:
        raise NotFound("no such event", field=field)
    return pk


async def visible_event(ctx: RequestContext, event_id: str) -> Event | None:
    pk = decode_id(event_id, "Event")
    event = await ctx.loaders.event.load(pk) if pk is not None else None
    if event is None or not access.may_see_event(await ctx.actor(), event):
        return None
    return event


async def browse(
    ctx: RequestContext, first: int | None, after: str | None, filters: event_listings.EventFilter
) -> Page[Event]:
    return await event_listings.published_events(
        ctx.session, limit=page_size(first), after=_after(after), filters=filters
    )


async def mine(ctx: RequestContext, first: int | None, after: str | None) -> Page[Event]:
    actor = await ctx.actor()
    assert actor.user_id is not None
    return await event_listings.organizer_events(
        ctx.session, actor.user_id, limit=page_size(first), after=_after(after)
    )


async def create(ctx: RequestContext, data: events.NewEvent) -> Result[Event]:
    actor = await ctx.actor()
    return await attempt(lambda: events.create_event(ctx.session, data, actor))


async def update(ctx: RequestContext, event_id: str, changes: events.EventChanges) -> Result[Event]:
    actor = await ctx.actor()
    return await attempt(
        lambda: events.update_event(ctx.session, _event_pk(event_id), changes, actor)
    )


async def publish(ctx: RequestContext, event_id: str) -> Result[Event]:
    actor = await ctx.actor()
    return await attempt(lambda: events.publish_event(ctx.session, _event_pk(event_id), actor))


async def cancel(ctx: RequestContext, event_id: str) -> Result[Event]:
    actor = await ctx.actor()
    return await attempt(
        lambda: events.cancel_event(ctx.session, _event_pk(event_id), actor, ctx.app.provider)
    )


async def delete(ctx: RequestContext, event_id: str) -> Result[int]:
    actor = await ctx.actor()
    return await attempt(lambda: events.delete_event(ctx.session, _event_pk(event_id), actor))


async def add_ticket_type(
    ctx: RequestContext, event_id: str, data: events.NewTicketType
) -> Result[Event]:
    actor = await ctx.actor()
    return await attempt(
        lambda: events.add_ticket_type(ctx.session, _event_pk(event_id, "eventId"), data, actor)
    )


async def add_promo_code(ctx: RequestContext, event_id: str, data: NewPromoCode) -> Result[Event]:
    actor = await ctx.actor()
    return await attempt(
        lambda: events.add_promo_code(ctx.session, _event_pk(event_id, "eventId"), data, actor)
    )


async def assign_staff(ctx: RequestContext, event_id: str, email: str) -> Result[None]:
    actor = await ctx.actor()
    return await attempt(
        lambda: events.assign_staff(ctx.session, _event_pk(event_id, "eventId"), email, actor)
    )


async def upload_image(ctx: RequestContext, event_id: str, file: Any) -> Result[Event]:
    """`file` is the multipart upload; read at most one byte past the limit."""
    settings, actor = ctx.settings, await ctx.actor()
    data: bytes = await file.read(settings.max_upload_bytes + 1)
    return await attempt(
        lambda: event_images.set_image(
            ctx.session,
            _event_pk(event_id, "eventId"),
            data,
            actor,
            settings.upload_dir,
            settings.max_upload_bytes,
        )
    )
