"""The order state machine: PENDING → PAID | EXPIRED | CANCELLED, PAID → REFUNDED.

Every status change is one conditional update (`… WHERE status = :from`), so
when the sweeper, a webhook and a buyer race, exactly one wins, and only the
winner gives seats back or issues tickets.
"""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import Event, Order, OrderItem
from eventhub.services import audit, fair_share, inventory, tickets
from eventhub.services.errors import (
    AlreadyCheckedIn,
    LimitExceeded,
    NotFound,
    NotRefundable,
    PaymentFailed,
    PermissionDenied,
    PromoExhausted,
    SoldOut,
    ValidationFailed,
)
from eventhub.services.payments import (
    PaymentDeclined,
    PaymentProvider,
    ProviderUnavailable,
)

LIVE_STATUSES = ("PENDING", "PAID")


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
    if won and from_status == "PENDING":
        await fair_share.leave_pending(session, order_id)
    return won


async def items_of(session: AsyncSession, order_id: int) -> list[OrderItem]:
    rows = await session.scalars(
        select(OrderItem).where(col(OrderItem.order_id) == order_id).order_by(col(OrderItem.id))
    )
    return list(rows.all())


async def _seats_of(session: AsyncSession, order_id: int) -> dict[int, int]:
    per_tier: dict[int, int] = {}
    for item in await items_of(session, order_id):
        per_tier[item.ticket_type_id] = per_tier.get(item.ticket_type_id, 0) + item.quantity
    return per_tier


async def _release(session: AsyncSession, order: Order) -> None:
    """Seats and promo use back; the caller has just won the status change."""
    assert order.id is not None
    await inventory.return_seats(
        session,
        order.event_id,
        await _seats_of(session, order.id),
        order.promo_code_id,
        order.buyer_id,
    )


async def _reload(session: AsyncSession, order_id: int) -> Order:
    order = await session.get(Order, order_id, populate_existing=True)
    assert order is not None
    return order


async def expire_order(session: AsyncSession, order_id: int, now: datetime) -> bool:
    """Release one expired hold; a no-op when a payment or another sweeper got there first."""
    order = await session.get(Order, order_id)
    if order is None or not await transition(
        session, order_id, "PENDING", "EXPIRED", expires_before=now, closed_at=now
    ):
        await session.rollback()
        return False
    await _release(session, order)
    audit.record(session, audit.SYSTEM, "order.expire", target_type="Order", target_id=order_id)
    await session.commit()
    return True


async def expired_order_ids(session: AsyncSession, now: datetime, limit: int = 200) -> list[int]:
    rows = await session.scalars(
        select(col(Order.id))
        .where(col(Order.status) == "PENDING", col(Order.expires_at) <= now)
        .order_by(col(Order.expires_at))
        .limit(limit)
    )
    await session.rollback()  # end the read: each expiry is its own transaction
    return [i for i in rows.all() if i is not None]


async def get_order(session: AsyncSession, order_id: int) -> Order | None:
    return await session.get(Order, order_id)


async def can_view(session: AsyncSession, order: Order, actor: audit.Actor) -> bool:
    """The buyer, the event's organizer and admins."""
    if actor.is_admin or order.buyer_id == actor.user_id:
        return True
    organizer = await session.scalar(
        select(col(Event.organizer_id)).where(col(Event.id) == order.event_id)
    )
    return organizer is not None and organizer == actor.user_id


async def _manageable(
    session: AsyncSession, order_id: int, actor: audit.Actor, *, buyer_ok: bool
) -> tuple[Order, Event]:
    """The order and its event, if the actor may change it; strangers learn nothing."""
    order = await session.get(Order, order_id)
    event = await session.get(Event, order.event_id) if order else None
    if order is None or event is None:
        raise NotFound("no such order", field="id")
    if actor.is_admin or event.organizer_id == actor.user_id:
        return order, event
    if buyer_ok and order.buyer_id == actor.user_id:
        return order, event
    await audit.record_now(
        session, actor, "order.access_denied", target_type="Order", target_id=order_id
    )
    if order.buyer_id == actor.user_id:
        raise PermissionDenied("only the organizer can refund this order")
    raise NotFound("no such order", field="id")


async def cancel_order(
    session: AsyncSession, order_id: int, actor: audit.Actor, provider: PaymentProvider
) -> Order:
    """Buyer (or organizer/admin): release a hold, or refund a paid order before the event."""
    order, event = await _manageable(session, order_id, actor, buyer_ok=True)
    now = datetime.now(UTC)
    if order.status == "PENDING":
        if await cancel_hold(session, order, actor):
            await provider_cancel(provider, order)
            return await _reload(session, order_id)
        order = await _reload(session, order_id)
    if order.status == "PAID":
        if await tickets.checked_in_count(session, order_id):
            raise AlreadyCheckedIn(
                "a ticket of this order was checked in; only an admin can refund it, with a reason"
            )
        if now >= event.starts_at and not (actor.is_admin or event.organizer_id == actor.user_id):
            raise NotRefundable("the event has started; ask the organizer for a refund")
        return await refund_paid(session, order, actor, provider, "order.cancel_refund", None)
    raise NotRefundable(f"the order is already {order.status.lower()}")


async def _after_entry_reason(
    session: AsyncSession, order_id: int, actor: audit.Actor, reason: str | None
) -> dict[str, Any]:
    """Extra audit details for refunding an order someone already entered with.

    Only an admin may do it, and only with a reason: entry was the service the buyer paid for.
    """
    used = await tickets.checked_in_count(session, order_id)
    if not used:
        return {}
    if not actor.is_admin:
        raise AlreadyCheckedIn("a ticket of this order was checked in; only an admin can refund it")
    if not (reason or "").strip():
        raise ValidationFailed("say why an order used at the door is refunded", field="reason")
    return {"checked_in": used}


async def cancel_hold(session: AsyncSession, order: Order, actor: audit.Actor) -> bool:
    """PENDING → CANCELLED, seats back; False when a payment or the sweeper won first."""
    assert order.id is not None
    if not await transition(session, order.id, "PENDING", "CANCELLED", closed_at=datetime.now(UTC)):
        await session.rollback()
        return False
    await _release(session, order)
    audit.record(session, actor, "order.cancel", target_type="Order", target_id=order.id)
    await session.commit()
    return True


async def live_order_ids(session: AsyncSession, event_id: int) -> tuple[list[int], list[int]]:
    """Ids of the (PENDING, PAID) orders of an event.

    Ids, not rows: each order is then handled in its own transaction, and a rollback
    in one of them must not leave the caller holding expired objects.
    """
    rows = await session.execute(
        select(col(Order.id), col(Order.status))
        .where(col(Order.event_id) == event_id, col(Order.status).in_(LIVE_STATUSES))
        .order_by(col(Order.id))
    )
    pairs = [(order_id, status) for order_id, status in rows.all() if order_id is not None]
    await session.commit()
    return (
        [order_id for order_id, status in pairs if status == "PENDING"],
        [order_id for order_id, status in pairs if status == "PAID"],
    )


async def reload(session: AsyncSession, order_id: int) -> Order:
    """The order as the database has it now (a rollback expires loaded objects)."""
    return await _reload(session, order_id)


async def refund_order(
    session: AsyncSession,
    order_id: int,
    actor: audit.Actor,
    provider: PaymentProvider,
    reason: str | None,
) -> Order:
    order, _event = await _manageable(session, order_id, actor, buyer_ok=False)
    if order.status != "PAID":
        raise NotRefundable(f"only paid orders can be refunded; this one is {order.status.lower()}")
    extra = await _after_entry_reason(session, order_id, actor, reason)
    return await refund_paid(session, order, actor, provider, "order.refund", reason, extra)


async def refund_paid(
    session: AsyncSession,
    order: Order,
    actor: audit.Actor,
    provider: PaymentProvider,
    action: str,
    reason: str | None,
    extra: dict[str, Any] | None = None,
) -> Order:
    """Refund through the provider first; the order becomes REFUNDED only once it accepted."""
    assert order.id is not None
    order_id = order.id
    # No transaction open across the provider call; expire_on_commit=False keeps `order` loaded.
    await session.commit()
    try:
        refund = await provider.refund(order)
    except (ProviderUnavailable, PaymentDeclined) as error:
        raise PaymentFailed(f"the refund did not go through, nothing changed: {error}") from None
    now = datetime.now(UTC)
    if await transition(
        session,
        order.id,
        "PAID",
        "REFUNDED",
        refund_id=refund.refund_id,
        closed_at=now,
        payment_status="refunded",
    ):
        await tickets.void_tickets(session, order.id)
        await _release(session, order)
        audit.record(
            session,
            actor,
            action,
            target_type="Order",
            target_id=order.id,
            details={
                "refund_id": refund.refund_id,
                "reason": reason,
                "amount_minor": order.total_minor,
                **(extra or {}),
            },
        )
        await session.commit()
    else:
        await session.rollback()  # another refund won: `order` is expired, reload by id
    return await _reload(session, order_id)


async def provider_cancel(provider: PaymentProvider, order: Order) -> None:
    """Tell the provider a hold is gone, when it has something to cancel (best effort)."""
    cancel = getattr(provider, "cancel_payment", None)
    if cancel is not None and order.payment_intent_id:
        # Best effort: the intent expires on its own; a late success is refunded by the webhook.
        with contextlib.suppress(ProviderUnavailable, PaymentDeclined):
            await cancel(order)


async def begin_payment(session: AsyncSession, order: Order, provider: PaymentProvider) -> Order:
    """Create the provider payment for a fresh PENDING order; on failure release the hold."""
    assert order.id is not None
    try:
        info = await provider.create_payment(order)
    except (ProviderUnavailable, PaymentDeclined) as error:
        if await transition(
            session,
            order.id,
            "PENDING",
            "CANCELLED",
            closed_at=datetime.now(UTC),
            payment_status="failed",
        ):
            await _release(session, order)
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
    return await _reload(session, order.id)


async def mark_paid(session: AsyncSession, order: Order, actor: audit.Actor) -> bool:
    """PENDING → PAID with its tickets, in one transaction; False if someone else moved it."""
    assert order.id is not None
    now = datetime.now(UTC)
    if not await transition(
        session, order.id, "PENDING", "PAID", paid_at=now, payment_status="succeeded"
    ):
        await session.rollback()
        return False
    tickets.issue_tickets(session, order.id, order.event_id, await items_of(session, order.id))
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
    if released_as == "EXPIRED" and event is not None and event.status != "CANCELLED":
        try:
            if not await transition(
                session,
                order.id,
                released_as,
                "PAID",
                paid_at=datetime.now(UTC),
                payment_status="succeeded",
            ):
                await session.rollback()
                return "raced"
            seats = await _seats_of(session, order.id)
            share = fair_share.Share(order.buyer_id, sum(seats.values()), False, 0)
            await inventory.take_seats(session, order.event_id, seats, order.promo_code_id, share)
            tickets.issue_tickets(
                session, order.id, order.event_id, await items_of(session, order.id)
            )
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
            order = await _reload(session, order_id)  # the rollback expired it
            if order.status != released_as:
                return "raced"
    refund = await provider.refund(order)  # a failure propagates: the provider retries the event
    if await transition(
        session,
        order_id,
        released_as,
        "REFUNDED",
        refund_id=refund.refund_id,
        payment_status="refunded",
        closed_at=datetime.now(UTC),
    ):
        audit.record(
            session,
            audit.SYSTEM,
            "order.late_payment_refunded",
            target_type="Order",
            target_id=order.id,
            details={"refund_id": refund.refund_id},
        )
        await session.commit()
        return "refunded"
    await session.rollback()
    return "raced"


async def record_external_refund(
    session: AsyncSession, order: Order, refund_id: str | None
) -> bool:
    """A refund made in the provider's dashboard: PAID → REFUNDED, tickets void, seats back."""
    assert order.id is not None
    if not await transition(
        session,
        order.id,
        "PAID",
        "REFUNDED",
        refund_id=refund_id,
        payment_status="refunded",
        closed_at=datetime.now(UTC),
    ):
        await session.rollback()
        return False
    await tickets.void_tickets(session, order.id)
    await _release(session, order)
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
