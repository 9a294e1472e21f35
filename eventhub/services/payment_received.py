"""An order's payment succeeded at the provider: what that does to the order, in one place.

The webhook (`payments.stripe.webhook_events`), `eventhub payments reconcile` and
a cancel that found its intent paid all call `apply_succeeded_payment` once the
payment is known to be the order's own for its total. A hold still PENDING
becomes PAID. The contract's rule for a payment that lands on a hold already
released: it re-takes its seats when it still can (an expired hold); a payment
for a cancelled hold or event, or for seats sold meanwhile, is refunded in full
(through `refunds`, so only once).
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import Event, Order
from eventhub.models.statuses import RELEASED, EventStatus, OrderStatus, PaymentStatus
from eventhub.services import (
    audit,
    fair_share,
    inventory,
    orders,
    outbox,
    payment_tasks,
    refunds,
    tickets,
)
from eventhub.services.errors import LimitExceeded, PromoExhausted, SoldOut
from eventhub.services.payments import PaymentProvider


async def apply_succeeded_payment(
    session: AsyncSession, order: Order, provider: PaymentProvider
) -> str:
    """The order's payment succeeded: PENDING → PAID, or the late-payment rule when released.

    Returns "paid", "refunded", "raced" or "already <status>" (nothing to do, e.g. a replay).
    Raises PaymentFailed when a refund it owes was not confirmed by the provider (the
    refund stays claimed and is retried).
    """
    assert order.id is not None
    order_id = order.id
    if order.status == OrderStatus.PENDING and await orders.mark_paid(session, order, audit.SYSTEM):
        return "paid"
    order = await orders.reload(session, order_id)  # mark_paid may have rolled back
    if order.status in RELEASED:
        return await accept_late_payment(session, order, provider)
    return f"already {order.status.lower()}"


async def accept_late_payment(
    session: AsyncSession, order: Order, provider: PaymentProvider
) -> str:
    """A payment for a released hold: re-take the seats of an expired hold if they are still
    free; refund in full when they are gone, the event was cancelled or the buyer cancelled.

    Returns "paid", "refunded" or "raced" (another handler moved the order first).
    """
    assert order.id is not None
    order_id = order.id
    released_as = order.status  # EXPIRED (hold ran out) or CANCELLED (buyer or payment gave up)
    event = await session.get(Event, order.event_id)
    if (
        released_as == OrderStatus.EXPIRED
        and event is not None
        and event.status != EventStatus.CANCELLED
    ):
        try:
            if not await orders.transition(
                session,
                order.id,
                released_as,
                OrderStatus.PAID,
                paid_at=datetime.now(UTC),
                payment_status=PaymentStatus.SUCCEEDED,
            ):
                await session.rollback()
                return "raced"
            seats = await orders.seats_of(session, order.id)
            share = fair_share.Share(order.buyer_id, sum(seats.values()), False, 0)
            await inventory.take_seats(session, order.event_id, seats, order.promo_code_id, share)
            tickets.issue_tickets(
                session, order.id, order.event_id, await orders.items_of(session, order.id)
            )
            await payment_tasks.drop(session, order.id, payment_tasks.CANCEL_INTENT)  # it paid
            await outbox.late_payment_accepted(session, order, event)
            audit.record(
                session,
                audit.SYSTEM,
                "order.late_payment_accepted",
                target_type="Order",
                target_id=order.id,
            )
            await session.commit()
            return "paid"
        except (SoldOut, PromoExhausted, LimitExceeded):
            await session.rollback()
            order = await orders.reload(session, order_id)  # the rollback expired it
            if order.status != released_as:
                return "raced"
    # Refused or unanswered, PaymentFailed propagates: the provider sends the event again.
    if await refunds.refund_released(session, order, provider, "order.late_payment_refunded"):
        return "refunded"
    return "raced"
