"""The order state machine: PENDING → PAID | EXPIRED | CANCELLED, PAID → REFUNDED.

Every status change is one conditional update (`… WHERE status = :from`), so
when the sweeper, a webhook and a buyer race, exactly one wins, and only the
winner gives seats back or issues tickets.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import Event, Order, OrderItem, PaymentTask
from eventhub.models.statuses import HOLDING_SEATS, OrderStatus, PaymentStatus
from eventhub.services import access, audit, fair_share, inventory, outbox, payment_tasks, tickets
from eventhub.services.errors import (
    NotFound,
    PaymentFailed,
    PermissionDenied,
)
from eventhub.services.payments import (
    PaymentDeclined,
    PaymentProvider,
    ProviderUnavailable,
)


async def transition(
    session: AsyncSession, order_id: int, from_status: str, to_status: str, **values: Any
) -> bool:
    """Move the order if (and only if) it is still in `from_status`; True for the winner.

    Leaving PENDING gives the buyer's pending-order slot back in the same transaction.
    """
    conditions = [col(Order.id) == order_id, col(Order.status) == from_status]
    expires_before = values.pop("expires_before", None)
    if expires_before is not None:
        conditions.append(col(Order.expires_at) <= expires_before)
    result = await session.execute(
        update(Order)
        .where(*conditions)
        .values(status=to_status, **values)
        .execution_options(synchronize_session=False)
    )
    assert isinstance(result, CursorResult)
    won = bool(result.rowcount == 1)
    if won and from_status == OrderStatus.PENDING:
        await fair_share.leave_pending(session, order_id)
    return won


async def items_of(session: AsyncSession, order_id: int) -> list[OrderItem]:
    rows = await session.scalars(
        select(OrderItem).where(col(OrderItem.order_id) == order_id).order_by(col(OrderItem.id))
    )
    return list(rows.all())


async def seats_of(session: AsyncSession, order_id: int) -> dict[int, int]:
    per_tier: dict[int, int] = {}
    for item in await items_of(session, order_id):
        per_tier[item.ticket_type_id] = per_tier.get(item.ticket_type_id, 0) + item.quantity
    return per_tier


async def release_seats(session: AsyncSession, order: Order) -> None:
    """Seats and promo use back; the caller has just won the status change."""
    assert order.id is not None
    seats = await seats_of(session, order.id)
    await inventory.return_seats(
        session, order.event_id, seats, order.promo_code_id, order.buyer_id
    )


async def reload(session: AsyncSession, order_id: int) -> Order:
    """The order as the database has it now (a rollback expires loaded objects)."""
    order = await session.get(Order, order_id, populate_existing=True)
    assert order is not None
    return order


async def expire_order(session: AsyncSession, order_id: int, now: datetime) -> bool:
    """Release one expired hold; a no-op when a payment or another sweeper got there first."""
    order = await session.get(Order, order_id)
    if order is None or not await transition(
        session,
        order_id,
        OrderStatus.PENDING,
        OrderStatus.EXPIRED,
        expires_before=now,
        closed_at=now,
    ):
        await session.rollback()
        return False
    await release_seats(session, order)
    if order.payment_intent_id:
        payment_tasks.queue(session, order_id, payment_tasks.CANCEL_INTENT)
    audit.record(session, audit.SYSTEM, "order.expire", target_type="Order", target_id=order_id)
    await session.commit()
    return True


async def expired_order_ids(session: AsyncSession, now: datetime, limit: int = 200) -> list[int]:
    rows = await session.scalars(
        select(col(Order.id))
        .where(col(Order.status) == OrderStatus.PENDING, col(Order.expires_at) <= now)
        .order_by(col(Order.expires_at))
        .limit(limit)
    )
    await session.rollback()  # end the read: each expiry is its own transaction
    return [i for i in rows.all() if i is not None]


async def get_order(session: AsyncSession, order_id: int) -> Order | None:
    return await session.get(Order, order_id)


async def can_view(session: AsyncSession, order: Order, actor: audit.Actor) -> bool:
    """The buyer, the event's organizer and admins."""
    if access.may_see_order(actor, order.buyer_id, None):
        return True
    organizer = await session.scalar(
        select(col(Event.organizer_id)).where(col(Event.id) == order.event_id)
    )
    return access.may_see_order(actor, order.buyer_id, organizer)


async def manageable(
    session: AsyncSession, order_id: int, actor: audit.Actor, *, buyer_ok: bool
) -> tuple[Order, Event]:
    """The order and its event, if the actor may change it; strangers learn nothing."""
    order = await session.get(Order, order_id)
    event = await session.get(Event, order.event_id) if order else None
    if order is None or event is None:
        raise NotFound("no such order", field="id")
    if access.may_manage_event(actor, event):
        return order, event
    if buyer_ok and access.is_self(actor, order.buyer_id):
        return order, event
    await audit.record_now(
        session, actor, "order.access_denied", target_type="Order", target_id=order_id
    )
    if access.is_self(actor, order.buyer_id):
        raise PermissionDenied("only the organizer can refund this order")
    raise NotFound("no such order", field="id")


async def cancel_hold(session: AsyncSession, order: Order, actor: audit.Actor) -> bool:
    """PENDING → CANCELLED, seats back; False when a payment or the sweeper won first."""
    assert order.id is not None
    if not await transition(
        session, order.id, OrderStatus.PENDING, OrderStatus.CANCELLED, closed_at=datetime.now(UTC)
    ):
        await session.rollback()
        return False
    await release_seats(session, order)
    if order.payment_intent_id:
        payment_tasks.queue(session, order.id, payment_tasks.CANCEL_INTENT)
    audit.record(session, actor, "order.cancel", target_type="Order", target_id=order.id)
    await outbox.order_changed(session, order, OrderStatus.CANCELLED)
    await session.commit()
    return True


async def live_order_ids(session: AsyncSession, event_id: int) -> tuple[list[int], list[int]]:
    """Ids of the (PENDING, PAID) orders of an event.

    Ids, not rows: each order is then handled in its own transaction, and a rollback
    in one of them must not leave the caller holding expired objects.
    """
    rows = await session.execute(
        select(col(Order.id), col(Order.status))
        .where(col(Order.event_id) == event_id, col(Order.status).in_(HOLDING_SEATS))
        .order_by(col(Order.id))
    )
    pairs = [(order_id, status) for order_id, status in rows.all() if order_id is not None]
    await session.commit()
    return (
        [order_id for order_id, status in pairs if status == OrderStatus.PENDING],
        [order_id for order_id, status in pairs if status == OrderStatus.PAID],
    )


async def begin_payment(session: AsyncSession, order: Order, provider: PaymentProvider) -> Order:
    """Create the provider payment for a fresh PENDING order; on failure release the hold."""
    assert order.id is not None
    try:
        info = await provider.create_payment(order)
    except (ProviderUnavailable, PaymentDeclined) as error:
        if await transition(
            session,
            order.id,
            OrderStatus.PENDING,
            OrderStatus.CANCELLED,
            closed_at=datetime.now(UTC),
            payment_status=PaymentStatus.FAILED,
        ):
            await release_seats(session, order)
            await outbox.order_changed(session, order, OrderStatus.CANCELLED)
            audit.record(
                session,
                audit.SYSTEM,
                "order.payment_failed",
                target_type="Order",
                target_id=order.id,
                details={"error": str(error)},
            )
            await session.commit()
        raise PaymentFailed(
            f"the payment could not be started, no seats are held: {error}"
        ) from None
    if info is not None:
        await session.execute(
            update(Order)
            .where(col(Order.id) == order.id)
            .values(
                payment_intent_id=info.intent_id,
                payment_client_secret=info.client_secret,
                payment_status=info.status,
            )
            .execution_options(synchronize_session=False)
        )
        await session.commit()
    return await reload(session, order.id)


async def mark_paid(session: AsyncSession, order: Order, actor: audit.Actor) -> bool:
    """PENDING → PAID with its tickets, in one transaction; False if someone else moved it."""
    assert order.id is not None
    now = datetime.now(UTC)
    if not await transition(
        session,
        order.id,
        OrderStatus.PENDING,
        OrderStatus.PAID,
        paid_at=now,
        payment_status=PaymentStatus.SUCCEEDED,
    ):
        await session.rollback()
        return False
    tickets.issue_tickets(session, order.id, order.event_id, await items_of(session, order.id))
    await outbox.order_changed(session, order, OrderStatus.PAID)
    audit.record(
        session,
        actor,
        "order.paid",
        target_type="Order",
        target_id=order.id,
        details={"amount_minor": order.total_minor},
    )
    await session.commit()
    return True


async def record_external_refund(
    session: AsyncSession, order: Order, refund_id: str | None
) -> bool:
    """A refund made in the provider's dashboard: PAID → REFUNDED, tickets void, seats back.

    Not while a refund of ours is claimed: that is its echo, and the claimant records it
    as it was asked (who, why), or the sweeper does when the claimant's answer was lost.
    """
    assert order.id is not None
    if await session.get(PaymentTask, (order.id, payment_tasks.REFUND)) is not None:
        await session.rollback()
        return False
    if not await transition(
        session,
        order.id,
        OrderStatus.PAID,
        OrderStatus.REFUNDED,
        refund_id=refund_id,
        payment_status=PaymentStatus.REFUNDED,
        closed_at=datetime.now(UTC),
    ):
        await session.rollback()
        return False
    await tickets.void_tickets(session, order.id)
    await release_seats(session, order)
    await outbox.order_changed(session, order, OrderStatus.REFUNDED)
    audit.record(
        session,
        audit.SYSTEM,
        "order.refund_external",
        target_type="Order",
        target_id=order.id,
        details={"refund_id": refund_id},
    )
    await session.commit()
    return True


async def find_by_payment_intent(session: AsyncSession, intent_id: str) -> Order | None:
    return (
        await session.scalars(select(Order).where(col(Order.payment_intent_id) == intent_id))
    ).first()
