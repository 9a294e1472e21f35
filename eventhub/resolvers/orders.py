"""Orders: reserving, cancelling, refunding and reading them."""

from __future__ import annotations

from eventhub.global_ids import decode_id
from eventhub.metrics import BOOKINGS, SOLD_OUTS
from eventhub.models import Order
from eventhub.resolvers.context import RequestContext
from eventhub.resolvers.outcomes import Result, attempt
from eventhub.resolvers.paging import after_id, page_size
from eventhub.services import booking, cancellations, order_lists, orders
from eventhub.services.errors import NotFound
from eventhub.services.pagination import Page


def _order_pk(order_id: str) -> int:
    pk = decode_id(order_id, "Order")
    if pk is None:
        raise NotFound("no such order", field="id")
    return pk


def reservation(
    event_id: str, lines: list[tuple[str, int]], promo_code: str | None, key: str | None
) -> booking.ReservationRequest:
    event_pk = decode_id(event_id, "Event")
    if event_pk is None:
        raise NotFound("no such event", field="eventId")
    parsed = []
    for tier_id, quantity in lines:
        tier_pk = decode_id(tier_id, "TicketType")
        if tier_pk is None:
            raise NotFound("no such ticket type", field="items.ticketTypeId")
        parsed.append(booking.LineRequest(tier_pk, quantity))
    return booking.ReservationRequest(event_pk, parsed, promo_code, key)


async def reserve(
    ctx: RequestContext,
    event_id: str,
    lines: list[tuple[str, int]],
    promo_code: str | None,
    key: str | None,
) -> Result[Order]:
    settings, actor = ctx.settings, await ctx.actor()
    policy = booking.BookingPolicy(
        settings.hold_seconds, settings.max_tickets_per_tier, settings.max_pending_orders
    )
    result = await attempt(
        lambda: booking.reserve(
            ctx.session,
            reservation(event_id, lines, promo_code, key),
            actor,
            policy,
            ctx.app.provider,
            now=ctx.now,
        )
    )
    outcome = result.error.code if result.error else "OK"
    BOOKINGS.labels(outcome).inc()
    if outcome == "SOLD_OUT":
        SOLD_OUTS.inc()
    return result


async def cancel(ctx: RequestContext, order_id: str) -> Result[Order]:
    actor = await ctx.actor()
    return await attempt(
        lambda: cancellations.cancel_order(
            ctx.session, _order_pk(order_id), actor, ctx.app.provider, now=ctx.now
        )
    )


async def refund(ctx: RequestContext, order_id: str, reason: str | None) -> Result[Order]:
    actor = await ctx.actor()
    return await attempt(
        lambda: cancellations.refund_order(
            ctx.session, _order_pk(order_id), actor, ctx.app.provider, reason
        )
    )


async def visible_order(ctx: RequestContext, order_id: str) -> Order | None:
    """The buyer, the event's organizer and admins see an order; others get nothing."""
    pk = decode_id(order_id, "Order")
    order = await orders.get_order(ctx.session, pk) if pk is not None else None
    if order is None or not await orders.can_view(ctx.session, order, await ctx.actor()):
        return None
    return order


async def mine(ctx: RequestContext, first: int | None, after: str | None) -> Page[Order]:
    actor = await ctx.actor()
    assert actor.user_id is not None
    return await order_lists.buyer_orders(
        ctx.session, actor.user_id, limit=page_size(first), before_id=after_id(after)
    )


async def all_orders(
    ctx: RequestContext,
    first: int | None,
    after: str | None,
    event_id: str | None,
    status: str | None,
) -> Page[Order]:
    event_pk = decode_id(event_id, "Event") if event_id else None
    if event_id and event_pk is None:
        return Page.empty()
    return await order_lists.all_orders(
        ctx.session,
        limit=page_size(first),
        before_id=after_id(after),
        event_id=event_pk,
        status=status,
    )
