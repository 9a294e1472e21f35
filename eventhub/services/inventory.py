"""Seats: the one home of the conditional updates that make overselling impossible.

`take_seats` runs `UPDATE … SET sold = sold + n WHERE … AND sold + n <= limit`
on every tier, then the event's capacity, then the promo code's uses, in a
fixed order (tiers by id) so concurrent bookings cannot deadlock. Any update
that touches no row raises, and the caller rolls the whole transaction back.
No row is read and then written: the database decides.

On PostgreSQL all of it is one statement (a chain of data-modifying CTEs, each
running only if the one before it took its row) that also queues the live
notification: the hot rows' locks are then held for that statement and the
COMMIT, not for four round trips through a busy event loop. SQLite runs the
same updates one by one (it has no UPDATE in WITH, and it locks the whole
database anyway).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import CursorResult, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.live import signals
from eventhub.models import Event, PromoCode, TicketType
from eventhub.models.base import table_of
from eventhub.services import fair_share
from eventhub.services.errors import PromoExhausted, SoldOut

TIERS = table_of(TicketType)
EVENTS = table_of(Event)
PROMOS = table_of(PromoCode)

TIER_SOLD_OUT = "not enough tickets left in this tier"
EVENT_SOLD_OUT = "the event is sold out"
PROMO_USED_UP = "this promo code has been used up"


class Tier(Protocol):
    """What `remaining` reads of a tier: a TicketType, or a plain row of its table."""

    @property
    def seat_limit(self) -> int: ...
    @property
    def sold(self) -> int: ...


def tier_remaining(tier: Tier) -> int:
    """What a tier has left; never negative (a limit may be lowered below what it sold)."""
    return max(tier.seat_limit - tier.sold, 0)


def event_remaining(capacity: int, sold: int, tiers: Iterable[Tier]) -> int:
    """What the event has left: its own room, but no more than its tiers have together.

    One rule for the API's `remaining` and the live updates', so they never disagree.
    """
    return max(min(capacity - sold, sum(tier_remaining(t) for t in tiers)), 0)


async def take_seats(
    session: AsyncSession,
    event_id: int,
    per_tier: Mapping[int, int],
    promo_code_id: int | None,
    share: fair_share.Share,
) -> None:
    """Take seats (and the buyer's fair share) or raise SoldOut / PromoExhausted /
    LimitExceeded; never partially (the caller rolls back)."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        await _take_seats_in_one_statement(session, event_id, per_tier, promo_code_id, share)
        return
    await fair_share.claim(session, event_id, share)
    for tier_id in sorted(per_tier):
        quantity = per_tier[tier_id]
        if not await _updated_one(
            session,
            update(TIERS)
            .where(TIERS.c.id == tier_id, TIERS.c.sold + quantity <= TIERS.c.seat_limit)
            .values(sold=TIERS.c.sold + quantity),
        ):
            raise SoldOut(TIER_SOLD_OUT, field="items")
    total = sum(per_tier.values())
    if not await _updated_one(
        session,
        update(EVENTS)
        .where(EVENTS.c.id == event_id, EVENTS.c.sold + total <= EVENTS.c.capacity)
        .values(sold=EVENTS.c.sold + total),
    ):
        raise SoldOut(EVENT_SOLD_OUT, field="items")
    if promo_code_id is not None and not await _updated_one(
        session,
        update(PROMOS)
        .where(
            PROMOS.c.id == promo_code_id,
            PROMOS.c.max_uses.is_(None) | (PROMOS.c.uses + 1 <= PROMOS.c.max_uses),
        )
        .values(uses=PROMOS.c.uses + 1),
    ):
        raise PromoExhausted(PROMO_USED_UP, field="promoCode")
    await signals.changed(session, event_id)


async def _updated_one(session: AsyncSession, statement: Any) -> bool:
    result = await session.execute(statement)
    assert isinstance(result, CursorResult)
    return bool(result.rowcount == 1)


@dataclass(frozen=True)
class SeatUpdates:
    """The chained conditional UPDATEs as CTEs, for one statement on PostgreSQL.

    `ctes` go into a WITH list; `taken` is a select list of five booleans (pending
    slot, hold, tiers, event, promo taken) for `raise_unless_taken`; `params` are
    their bind values.
    """

    ctes: list[str]
    taken: str
    params: dict[str, Any]


def seat_updates(
    event_id: int,
    per_tier: Mapping[int, int],
    promo_code_id: int | None,
    share: fair_share.Share,
    *,
    after: str | None = None,
) -> SeatUpdates:
    """The buyer's claims, then t0 … tN-1, e and p: each runs only when the one before
    took its row.

    The guard chain fixes the lock order (buyer's rows, tiers by id, event, promo)
    and makes every later UPDATE a no-op once one fails. `after` names a CTE that
    must have produced a row first (the booking's inserts), so the hot locks come last.
    """
    ctes, previous, claimed = fair_share.claim_ctes(share, after)
    params: dict[str, Any] = {"s_event": event_id, "s_total": sum(per_tier.values())}
    params |= share.params(event_id)
    for i, tier_id in enumerate(sorted(per_tier)):
        guard = f" AND EXISTS (SELECT 1 FROM {previous})" if previous else ""
        ctes.append(
            f"s_t{i} AS (UPDATE ticket_types SET sold = sold + :s_q{i} "
            f"WHERE id = :s_t{i} AND sold + :s_q{i} <= seat_limit{guard} RETURNING 1)"
        )
        params[f"s_t{i}"], params[f"s_q{i}"] = tier_id, per_tier[tier_id]
        previous = f"s_t{i}"
    ctes.append(
        "s_e AS (UPDATE events SET sold = sold + :s_total WHERE id = :s_event "
        f"AND sold + :s_total <= capacity AND EXISTS (SELECT 1 FROM {previous}) RETURNING 1)"
    )
    promo_taken = "TRUE"
    if promo_code_id is not None:
        ctes.append(
            "s_p AS (UPDATE promo_codes SET uses = uses + 1 WHERE id = :s_promo "
            "AND (max_uses IS NULL OR uses + 1 <= max_uses) "
            "AND EXISTS (SELECT 1 FROM s_e) RETURNING 1)"
        )
        params["s_promo"] = promo_code_id
        promo_taken = "EXISTS (SELECT 1 FROM s_p)"
    tiers_taken = f"EXISTS (SELECT 1 FROM {previous})"
    taken = ", ".join([*claimed, tiers_taken, "EXISTS (SELECT 1 FROM s_e)", promo_taken])
    return SeatUpdates(ctes, taken, params)


def notify_sql(event_id: int) -> tuple[str, dict[str, Any]]:
    """A select-list item that queues the live notification with the transaction."""
    return "pg_notify(:s_channel, :s_payload) IS NULL", {
        "s_channel": signals.CHANNEL,
        "s_payload": str(event_id),
    }


TAKEN_FLAGS = 5  # how many booleans `SeatUpdates.taken` selects


def raise_unless_taken(share: fair_share.Share, *taken: bool) -> None:
    """The first claim that failed decides the answer (every later one was a no-op)."""
    pending_taken, hold_taken, tiers_taken, event_taken, promo_taken = taken
    fair_share.raise_unless_claimed(share, pending_taken, hold_taken)
    if not tiers_taken:
        raise SoldOut(TIER_SOLD_OUT, field="items")
    if not event_taken:
        raise SoldOut(EVENT_SOLD_OUT, field="items")
    if not promo_taken:
        raise PromoExhausted(PROMO_USED_UP, field="promoCode")


async def _take_seats_in_one_statement(
    session: AsyncSession,
    event_id: int,
    per_tier: Mapping[int, int],
    promo_code_id: int | None,
    share: fair_share.Share,
) -> None:
    updates = seat_updates(event_id, per_tier, promo_code_id, share)
    notify, notify_params = notify_sql(event_id)
    signals.touched(session, event_id)
    sql = f"WITH {', '.join(updates.ctes)} SELECT {updates.taken}, {notify}"
    row = (await session.execute(text(sql), {**updates.params, **notify_params})).one()
    raise_unless_taken(share, *(bool(flag) for flag in row[:TAKEN_FLAGS]))


async def return_seats(
    session: AsyncSession,
    event_id: int,
    per_tier: Mapping[int, int],
    promo_code_id: int | None,
    buyer_id: int,
) -> None:
    """Give seats (the buyer's hold, the promo use) back. Only the winner of a status
    change may call this."""
    await fair_share.give_back(session, event_id, buyer_id, sum(per_tier.values()))
    for tier_id in sorted(per_tier):
        await session.execute(
            update(TIERS).where(TIERS.c.id == tier_id).values(sold=TIERS.c.sold - per_tier[tier_id])
        )
    await session.execute(
        update(EVENTS)
        .where(EVENTS.c.id == event_id)
        .values(sold=EVENTS.c.sold - sum(per_tier.values()))
    )
    if promo_code_id is not None:
        await session.execute(
            update(PROMOS).where(PROMOS.c.id == promo_code_id).values(uses=PROMOS.c.uses - 1)
        )
    await signals.changed(session, event_id)
