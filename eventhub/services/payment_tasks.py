"""Claims on work owed to the payment provider, so racing paths make one provider call.

A refund or a PaymentIntent cancel is first written down as a `payment_tasks`
row; only the holder of the row's claim calls the provider. A new claim is an
insert that a second one cannot repeat (the primary key is the order and the
kind); a claim left by a caller that failed (or died) is taken over with one
conditional update on `attempts`, and only once its `claimed_until` has passed.
The row is deleted in the transaction that records the provider's answer, so
a row still there means "not known to be done": the sweeper retries it.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import CursorResult, delete, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import Order, PaymentTask, Ticket
from eventhub.models.statuses import TicketStatus

REFUND = "refund"
CANCEL_INTENT = "cancel_intent"
# Longer than any provider call can take (EVENTHUB_STRIPE_TIMEOUT ≤ 60 s, 3 attempts), so a
# claim is never taken over while its holder may still be talking to the provider.
CLAIM_SECONDS = 200.0
MAX_BACKOFF_SECONDS = 600.0


@dataclass(frozen=True)
class Request:
    """Who asked for a refund and why, kept until whoever finishes it audits it."""

    from_status: str
    actor_id: int | None
    action: str
    reason: str | None
    before_entry: bool = False  # only while no ticket of the order was checked in


def _now() -> datetime:
    return datetime.now(UTC)


def backoff(attempts: int) -> timedelta:
    """How long an unknown outcome waits for the sweeper's next try: 2, 4, 8 … s, at most 10 min."""
    return timedelta(seconds=min(2.0 ** max(attempts, 1), MAX_BACKOFF_SECONDS))


def queue(session: AsyncSession, order_id: int, kind: str) -> None:
    """Add an unclaimed task, due now, to the caller's transaction (e.g. the hold's release)."""
    now = _now()
    session.add(PaymentTask(order_id=order_id, kind=kind, attempts=0, retry_at=now, created_at=now))


async def claim_new(
    session: AsyncSession, order_id: int, kind: str, request: Request | None = None
) -> PaymentTask | None:
    """Insert and commit a claimed task while the order is in `request.from_status`.

    None when the order moved on or a task for it already exists (someone else's claim).
    """
    now = _now()
    if request is not None:
        # Touch the order only if it is still where the request starts: on PostgreSQL this
        # also queues racing claimers behind the first, which then fail on the insert.
        conditions = [col(Order.id) == order_id, col(Order.status) == request.from_status]
        if request.before_entry:  # decided in the claim itself, so a scan cannot slip between
            used = select(col(Ticket.id)).where(
                col(Ticket.order_id) == order_id, col(Ticket.status) == TicketStatus.USED
            )
            conditions.append(~exists(used))
        touched = await session.execute(
            update(Order)
            .where(*conditions)
            .values(status=request.from_status)
            .execution_options(synchronize_session=False)
        )
        assert isinstance(touched, CursorResult)
        if touched.rowcount != 1:
            await session.rollback()
            return None
    task = PaymentTask(
        order_id=order_id,
        kind=kind,
        attempts=1,
        claimed_until=now + timedelta(seconds=CLAIM_SECONDS),
        retry_at=now,
        created_at=now,
    )
    if request is not None:
        task.from_status, task.actor_id = request.from_status, request.actor_id
        task.action, task.reason = request.action, (request.reason or None) and request.reason[:500]
    session.add(task)
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        return None
    return task


async def find(session: AsyncSession, order_id: int, kind: str) -> PaymentTask | None:
    task = await session.get(PaymentTask, (order_id, kind), populate_existing=True)
    await session.commit()  # end the read: the caller may call the provider next
    return task


async def take_over(
    session: AsyncSession, order_id: int, kind: str, *, due_only: bool
) -> PaymentTask | None:
    """Claim an existing task nobody holds; `due_only` also waits for its `retry_at`.

    None when there is no such task, someone holds it, or another taker won.
    """
    task = await find(session, order_id, kind)
    now = _now()
    if task is None or (task.claimed_until is not None and task.claimed_until > now):
        return None
    if due_only and task.retry_at > now:
        return None
    taken = await session.execute(
        update(PaymentTask)
        .where(
            col(PaymentTask.order_id) == order_id,
            col(PaymentTask.kind) == kind,
            col(PaymentTask.attempts) == task.attempts,
        )
        .values(attempts=task.attempts + 1, claimed_until=now + timedelta(seconds=CLAIM_SECONDS))
        .execution_options(synchronize_session=False)
    )
    assert isinstance(taken, CursorResult)
    if taken.rowcount != 1:
        await session.rollback()
        return None
    await session.commit()
    return await find(session, order_id, kind)


async def release(session: AsyncSession, task: PaymentTask) -> None:
    """The provider's answer is unknown: free the claim and let the sweeper retry later."""
    await session.execute(
        update(PaymentTask)
        .where(
            col(PaymentTask.order_id) == task.order_id,
            col(PaymentTask.kind) == task.kind,
            col(PaymentTask.attempts) == task.attempts,
        )
        .values(claimed_until=None, retry_at=_now() + backoff(task.attempts))
        .execution_options(synchronize_session=False)
    )
    await session.commit()


async def drop(session: AsyncSession, order_id: int, kind: str) -> None:
    """Delete the task in the caller's transaction: its outcome is being recorded."""
    await session.execute(
        delete(PaymentTask).where(
            col(PaymentTask.order_id) == order_id, col(PaymentTask.kind) == kind
        )
    )


async def due(session: AsyncSession, kind: str, limit: int = 100) -> list[int]:
    """Order ids whose task of `kind` nobody holds and whose retry time has come."""
    now = _now()
    rows = await session.scalars(
        select(col(PaymentTask.order_id))
        .where(
            col(PaymentTask.kind) == kind,
            col(PaymentTask.retry_at) <= now,
            or_(col(PaymentTask.claimed_until).is_(None), col(PaymentTask.claimed_until) <= now),
        )
        .order_by(col(PaymentTask.retry_at))
        .limit(limit)
    )
    ids = list(rows.all())
    await session.commit()
    return ids


async def wait_while_claimed(
    session: AsyncSession, order_id: int, kind: str, seconds: float
) -> None:
    """Wait (up to `seconds`) for the holder of a claim to record its outcome or give up."""
    deadline = asyncio.get_running_loop().time() + seconds
    while asyncio.get_running_loop().time() < deadline:
        task = await find(session, order_id, kind)
        if task is None or task.claimed_until is None or task.claimed_until <= _now():
            return
        await asyncio.sleep(0.05)
