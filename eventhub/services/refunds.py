"""Refunds: claimed before the provider is called, recorded with the provider's refund id.

A refund is first claimed (`payment_tasks`): however many `cancelOrder`,
`refundOrder`, `cancelEvent`, webhook or sweeper paths race for one order, one
of them calls the provider and the others wait for its outcome. The order
becomes REFUNDED (tickets void, seats back) only once the provider accepted.
When the provider's answer is lost (timeout, 5xx, unreachable) the claim stays
and the sweeper settles it: it first asks the provider for a refund that
already covers the order, and only refunds what is left when there is none.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import Order, PaymentTask
from eventhub.models.statuses import OrderStatus, PaymentStatus
from eventhub.services import audit, orders, outbox, payment_tasks, tickets
from eventhub.services.errors import AlreadyCheckedIn, PaymentFailed
from eventhub.services.payments import PaymentDeclined, PaymentProvider, ProviderUnavailable
from eventhub.services.payments.base import RefundInfo

REFUND = payment_tasks.REFUND
WAIT_SECONDS = 15.0  # how long a racing request waits for the claimant's outcome


async def refund_paid(
    session: AsyncSession,
    order: Order,
    actor: audit.Actor,
    provider: PaymentProvider,
    action: str,
    reason: str | None,
    *,
    before_entry: bool = False,
) -> Order:
    """Refund a PAID order through the provider, once however many ask at the same time.

    Raises PaymentFailed when the provider refused (the order stays PAID) or did not
    answer (the claim stays, and the sweeper finishes the refund); with `before_entry`,
    AlreadyCheckedIn when a ticket was admitted before the claim.
    """
    assert order.id is not None
    order_id = order.id
    request = payment_tasks.Request(OrderStatus.PAID, actor.user_id, action, reason, before_entry)
    await settle(session, order_id, request, provider, actor)
    order = await orders.reload(session, order_id)
    if (
        before_entry
        and order.status == OrderStatus.PAID
        and await tickets.checked_in_count(session, order_id)
    ):
        raise AlreadyCheckedIn("a ticket of this order was checked in; only an admin can refund it")
    return order


async def refund_released(
    session: AsyncSession, order: Order, provider: PaymentProvider, action: str
) -> bool:
    """Refund a payment that arrived for a released (EXPIRED or CANCELLED) order.

    True when this call recorded the refund; False when another path has it.
    """
    assert order.id is not None
    request = payment_tasks.Request(order.status, None, action, None)
    return await settle(session, order.id, request, provider, audit.SYSTEM)


async def settle(
    session: AsyncSession,
    order_id: int,
    request: payment_tasks.Request,
    provider: PaymentProvider,
    actor: audit.Actor,
) -> bool:
    """Claim the order's refund (a new claim, or one its holder gave up) and carry it out.

    When someone else holds the claim, wait for their outcome; True only for the
    call that recorded the refund.
    """
    task = await payment_tasks.claim_new(session, order_id, REFUND, request)
    if task is None:
        task = await payment_tasks.take_over(session, order_id, REFUND, due_only=False)
    if task is None:
        await payment_tasks.wait_while_claimed(session, order_id, REFUND, WAIT_SECONDS)
        order = await orders.reload(session, order_id)
        if order.status == request.from_status and await payment_tasks.find(
            session, order_id, REFUND
        ):
            raise PaymentFailed("a refund of this order is under way; it is not confirmed yet")
        return False
    return await carry_out(session, task, provider, actor)


async def retry_due(session: AsyncSession, provider: PaymentProvider, limit: int = 50) -> int:
    """The sweeper's part: finish refunds whose answer was lost; returns how many it recorded."""
    done = 0
    for order_id in await payment_tasks.due(session, REFUND, limit):
        task = await payment_tasks.take_over(session, order_id, REFUND, due_only=True)
        if task is None:
            continue
        try:
            done += await carry_out(session, task, provider, audit.SYSTEM)
        except PaymentFailed:
            continue  # released for a later round, or refused and dropped
    return done


async def carry_out(
    session: AsyncSession, task: PaymentTask, provider: PaymentProvider, actor: audit.Actor
) -> bool:
    """Call the provider for a claimed refund and record what it said."""
    order = await orders.reload(session, task.order_id)
    if order.status != task.from_status:  # settled meanwhile (e.g. refunded in the Dashboard)
        await payment_tasks.drop(session, task.order_id, REFUND)
        await session.commit()
        return False
    await session.commit()  # no transaction open across the provider call
    try:
        # A retry first looks for the refund an earlier attempt may have made.
        found = await provider.find_refund(order) if task.attempts > 1 else None
        refund = found or await provider.refund(order)
    except PaymentDeclined as error:
        await payment_tasks.drop(session, task.order_id, REFUND)
        await session.commit()
        raise PaymentFailed(f"the refund did not go through, nothing changed: {error}") from None
    except ProviderUnavailable as error:
        await payment_tasks.release(session, task)
        raise PaymentFailed(
            f"the refund did not go through yet ({error}); it is retried automatically"
        ) from None
    return await _record(session, order, task, refund, actor)


async def _record(
    session: AsyncSession, order: Order, task: PaymentTask, refund: RefundInfo, actor: audit.Actor
) -> bool:
    """REFUNDED with the provider's refund id, the claim gone, audited as it was asked."""
    assert order.id is not None
    assert task.from_status is not None
    recorded = await orders.transition(
        session,
        order.id,
        task.from_status,
        OrderStatus.REFUNDED,
        refund_id=refund.refund_id,
        closed_at=datetime.now(UTC),
        payment_status=PaymentStatus.REFUNDED,
    )
    if recorded:
        details: dict[str, Any] = {"refund_id": refund.refund_id}
        if task.from_status == OrderStatus.PAID:  # seats and tickets were the buyer's until now
            used = await tickets.checked_in_count(session, order.id)
            await tickets.void_tickets(session, order.id)
            await orders.release_seats(session, order)
            await outbox.order_changed(session, order, OrderStatus.REFUNDED)
            details |= {"reason": task.reason, "amount_minor": order.total_minor}
            details |= {"checked_in": used} if used else {}
        if task.actor_id is not None and task.actor_id != actor.user_id:
            details["requested_by"] = task.actor_id
        audit.record(
            session,
            actor,
            task.action or "order.refund",
            target_type="Order",
            target_id=order.id,
            details=details,
        )
    await payment_tasks.drop(session, order.id, REFUND)
    await payment_tasks.drop(session, order.id, payment_tasks.CANCEL_INTENT)  # paid: moot
    await session.commit()
    return recorded
