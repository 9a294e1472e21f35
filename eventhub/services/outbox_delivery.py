"""Delivering the outbox: fan each message out to its targets, then send each delivery.

Any number of worker processes on any number of hosts run `deliver_round`
together. On PostgreSQL a message is routed, and a delivery claimed, under
`SELECT … FOR UPDATE SKIP LOCKED`, so workers never wait for one another; the
claim itself is a conditional update (which SQLite, writing one transaction at
a time, serializes too), so each delivery is in one worker's hands at a time.
A claim is a lease: it moves `next_attempt_at` past the send's time limit, so
a delivery whose worker died is simply due again (at least once; receivers
deduplicate by the message id). Failures retry with exponential backoff and
jitter until the message is 3 days old; then the delivery is FAILED.

Channels (webhooks here; e-mail plugs in the same way) say which kinds they
carry, who the targets of a message are, and how to send one delivery.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from eventhub.models import OutboxDelivery, OutboxMessage
from eventhub.models.base import table_of, utc_now

DELIVERIES = table_of(OutboxDelivery)
MESSAGES = table_of(OutboxMessage)
GIVE_UP_AFTER = timedelta(days=3)
FIRST_RETRY_SECONDS = 15.0  # then times 4 per attempt (jittered to 50-100 %), at most MAX_DELAY
MAX_DELAY_SECONDS = 8 * 3600.0


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    error: str | None = None
    final: bool = False  # no point retrying (the endpoint is gone or disabled)


class Channel(Protocol):
    """One way of delivering messages (webhook, e-mail)."""

    name: str

    def carries(self, kind: str) -> bool: ...

    async def targets(self, session: AsyncSession, message: OutboxMessage) -> list[str]:
        """Who gets this message, decided once when it is routed."""
        ...

    async def deliver(
        self,
        sessions: async_sessionmaker[AsyncSession],
        message: OutboxMessage,
        delivery: OutboxDelivery,
    ) -> Outcome:
        """One attempt; never holds a transaction open while talking to the outside."""
        ...


@dataclass(frozen=True)
class Claimed:
    delivery: OutboxDelivery
    message: OutboxMessage


def retry_delay(attempts: int, rng: random.Random | None = None) -> timedelta:
    """Exponential backoff with jitter: about 15 s, 1 min, 4 min, 16 min … up to 8 h."""
    base = min(FIRST_RETRY_SECONDS * 4 ** max(attempts - 1, 0), MAX_DELAY_SECONDS)
    return timedelta(seconds=base * (rng or random).uniform(0.5, 1.0))


def _locked(session: AsyncSession, query):  # type: ignore[no-untyped-def]
    """FOR UPDATE SKIP LOCKED on PostgreSQL; SQLite serializes writers instead."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        return query.with_for_update(skip_locked=True)
    return query


async def route_messages(
    session: AsyncSession, channels: Sequence[Channel], limit: int = 100
) -> int:
    """Create the deliveries of messages not yet routed; each message is routed once."""
    query = (
        select(OutboxMessage)
        .where(col(OutboxMessage.routed_at).is_(None))
        .order_by(col(OutboxMessage.id))
        .limit(limit)
    )
    messages = list((await session.scalars(_locked(session, query))).all())
    now = utc_now()
    routed = 0
    for message in messages:
        won = await session.execute(
            update(MESSAGES)
            .where(MESSAGES.c.id == message.id, MESSAGES.c.routed_at.is_(None))
            .values(routed_at=now)
        )
        if won.rowcount != 1:  # type: ignore[attr-defined]
            continue  # another worker routed it
        routed += 1
        for channel in channels:
            if channel.carries(message.kind):
                for target in await channel.targets(session, message):
                    session.add(
                        OutboxDelivery(
                            message_id=message.id or 0,
                            channel=channel.name,
                            target=target,
                            next_attempt_at=now,
                            created_at=now,
                        )
                    )
    await session.commit()
    return routed


async def claim_due(
    session: AsyncSession, limit: int, lease: timedelta, now: datetime | None = None
) -> list[Claimed]:
    """Take up to `limit` due deliveries for this worker for the length of the lease."""
    now = now or utc_now()
    query = (
        select(col(OutboxDelivery.id))
        .where(col(OutboxDelivery.status) == "PENDING", col(OutboxDelivery.next_attempt_at) <= now)
        .order_by(col(OutboxDelivery.next_attempt_at))
        .limit(limit)
    )
    ids = list((await session.scalars(_locked(session, query))).all())
    if not ids:
        await session.rollback()
        return []
    taken = await session.execute(
        update(DELIVERIES)
        .where(
            DELIVERIES.c.id.in_(ids),
            DELIVERIES.c.status == "PENDING",
            DELIVERIES.c.next_attempt_at <= now,
        )
        .values(attempts=DELIVERIES.c.attempts + 1, next_attempt_at=now + lease)
        .returning(DELIVERIES.c.id)
    )
    claimed_ids = [row[0] for row in taken.all()]
    await session.commit()
    if not claimed_ids:
        return []
    rows = await session.execute(
        select(OutboxDelivery, OutboxMessage)
        .join(OutboxMessage, col(OutboxMessage.id) == col(OutboxDelivery.message_id))
        .where(col(OutboxDelivery.id).in_(claimed_ids))
        .order_by(col(OutboxDelivery.id))
    )
    claimed = [Claimed(delivery, message) for delivery, message in rows.all()]
    await session.commit()
    return claimed


async def record_outcome(
    session: AsyncSession, claimed: Claimed, outcome: Outcome, now: datetime | None = None
) -> str:
    """DELIVERED, FAILED (final, or 3 days after the message) or PENDING again with backoff.

    Only the worker holding the current claim (same attempt number) moves the delivery.
    """
    now = now or utc_now()
    delivery, message = claimed.delivery, claimed.message
    values: dict[str, object]
    if outcome.delivered:
        values = {"status": "DELIVERED", "finished_at": now, "last_error": None}
    elif outcome.final or now >= message.created_at + GIVE_UP_AFTER:
        values = {"status": "FAILED", "finished_at": now, "last_error": _short(outcome.error)}
    else:
        retry_at = min(now + retry_delay(delivery.attempts), message.created_at + GIVE_UP_AFTER)
        values = {"next_attempt_at": retry_at, "last_error": _short(outcome.error)}
    await session.execute(
        update(DELIVERIES)
        .where(
            DELIVERIES.c.id == delivery.id,
            DELIVERIES.c.status == "PENDING",
            DELIVERIES.c.attempts == delivery.attempts,
        )
        .values(**values)
    )
    await session.commit()
    return str(values.get("status", "PENDING"))


async def release(
    session: AsyncSession, claims: Sequence[Claimed], now: datetime | None = None
) -> int:
    """Give back claims whose sends were stopped (a worker shutting down): due again at
    once for any worker, and the attempt that never finished is not counted."""
    now = now or utc_now()
    released = 0
    for claimed in claims:
        result = await session.execute(
            update(DELIVERIES)
            .where(
                DELIVERIES.c.id == claimed.delivery.id,
                DELIVERIES.c.status == "PENDING",
                DELIVERIES.c.attempts == claimed.delivery.attempts,
            )
            .values(attempts=DELIVERIES.c.attempts - 1, next_attempt_at=now)
        )
        released += int(result.rowcount or 0)  # type: ignore[attr-defined]
    await session.commit()
    return released


def _short(error: str | None) -> str | None:
    return None if error is None else error[:500]


async def requeue(session: AsyncSession, delivery_id: int) -> bool:
    """Send a delivery again now, whatever became of it (a manual redelivery); same id."""
    result = await session.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery_id)
        .values(status="PENDING", next_attempt_at=utc_now(), finished_at=None)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]
