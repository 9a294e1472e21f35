"""What a buyer, organizer or admin may undo: `cancelOrder` and `refundOrder`.

A hold is released at once and its PaymentIntent cancelled; a paid order is
refunded through `refunds`, never by the buyer once a ticket was checked in.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import Order
from eventhub.models.statuses import OrderStatus
from eventhub.services import access, audit, intent_cancels, orders, refunds, tickets
from eventhub.services.errors import AlreadyCheckedIn, NotRefundable, ValidationFailed
from eventhub.services.payments import PaymentProvider


async def cancel_order(
    session: AsyncSession,
    order_id: int,
    actor: audit.Actor,
    provider: PaymentProvider,
    *,
    now: datetime,
) -> Order:
    """Buyer (or organizer/admin): release a hold, or refund a paid order before the event
    starts (by `now`, the request's instant)."""
    order, event = await orders.manageable(session, order_id, actor, buyer_ok=True)
    if order.status == OrderStatus.PENDING:
        if await orders.cancel_hold(session, order, actor):
            await intent_cancels.cancel_intent(session, order_id, provider)
            return await orders.reload(session, order_id)
        order = await orders.reload(session, order_id)
    if order.status == OrderStatus.PAID:
        if await tickets.checked_in_count(session, order_id):
            raise AlreadyCheckedIn(
                "a ticket of this order was checked in; only an admin can refund it, with a reason"
            )
        if now >= event.starts_at and not access.may_manage_event(actor, event):
            raise NotRefundable("the event has started; ask the organizer for a refund")
        return await refunds.refund_paid(
            session, order, actor, provider, "order.cancel_refund", None, before_entry=True
        )
    raise NotRefundable(f"the order is already {order.status.lower()}")


async def refund_order(
    session: AsyncSession,
    order_id: int,
    actor: audit.Actor,
    provider: PaymentProvider,
    reason: str | None,
) -> Order:
    """Organizer or admin. After entry only an admin, with a reason: entry was what was paid for."""
    order, _event = await orders.manageable(session, order_id, actor, buyer_ok=False)
    if order.status != OrderStatus.PAID:
        raise NotRefundable(f"only paid orders can be refunded; this one is {order.status.lower()}")
    if await tickets.checked_in_count(session, order_id):
        if not access.may_refund_after_entry(actor):
            raise AlreadyCheckedIn(
                "a ticket of this order was checked in; only an admin can refund it"
            )
        if not (reason or "").strip():
            raise ValidationFailed("say why an order used at the door is refunded", field="reason")
    return await refunds.refund_paid(
        session,
        order,
        actor,
        provider,
        "order.refund",
        reason,
        before_entry=not access.is_admin(actor),
    )
