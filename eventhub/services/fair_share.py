"""Fair share: no account hoards an event's seats or piles up unpaid orders.

Two counters, each raised by one conditional statement inside the booking
transaction, never read and then written:
- `customer_holds.held`, the seats one account holds for one event across
  its PENDING and PAID orders, bounded by the event's `max_per_customer`;
- `customer_pending.pending`, the account's PENDING orders, bounded by
  `EVENTHUB_MAX_PENDING_ORDERS`.
Both are insert-or-update (`ON CONFLICT … DO UPDATE … WHERE count + n <= cap`),
so the first booking creates the row and a refused one touches nothing.

Lock order, shared with `inventory`: the buyer's pending row, the buyer's hold
row, then the tiers, the event and the promo code. Seats given back lower the
hold first; a PENDING order leaving PENDING lowers the pending count (in
`orders.transition`), so the counters change exactly when the seats do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.services.errors import LimitExceeded

# The cap is read inside the statement: an organizer's change applies at once.
# In INSERT … SELECT a bind parameter has no column to take its type from: cast it.
_EVENT, _USER, _SEATS = (f"CAST(:f_{name} AS INTEGER)" for name in ("event", "user", "seats"))
_MAX_PENDING = "CAST(:f_max_pending AS INTEGER)"
_CAP = f"(SELECT max_per_customer FROM events WHERE id = {_EVENT})"
_CLAIM_HOLD = (
    "INSERT INTO customer_holds (event_id, user_id, held) "
    f"SELECT {_EVENT}, {_USER}, {_SEATS} WHERE ({_SEATS} <= {_CAP} OR {_CAP} IS NULL){{guard}} "
    "ON CONFLICT (event_id, user_id) DO UPDATE SET held = customer_holds.held + excluded.held "
    f"WHERE customer_holds.held + excluded.held <= {_CAP} OR {_CAP} IS NULL "
    "RETURNING 1"
)
_CLAIM_PENDING = (
    "INSERT INTO customer_pending (user_id, pending) "
    f"SELECT {_USER}, 1 WHERE {_MAX_PENDING} >= 1{{guard}} "
    "ON CONFLICT (user_id) DO UPDATE SET pending = customer_pending.pending + 1 "
    f"WHERE customer_pending.pending + 1 <= {_MAX_PENDING} "
    "RETURNING 1"
)
_GIVE_BACK = (
    "UPDATE customer_holds SET held = held - :f_seats "
    "WHERE event_id = :f_event AND user_id = :f_user"
)
# `orders.transition` runs this for an order that has just left PENDING.
LEAVE_PENDING = (
    "UPDATE customer_pending SET pending = pending - 1 "
    "WHERE user_id = (SELECT buyer_id FROM orders WHERE id = :order_id)"
)


@dataclass(frozen=True)
class Share:
    """What one booking claims besides its seats."""

    buyer_id: int
    seats: int
    pending: bool  # a PENDING order takes one of the buyer's pending slots
    max_pending: int
    cap: int | None = None  # the event's cap as loaded, for the message only

    def params(self, event_id: int) -> dict[str, Any]:
        return {
            "f_event": event_id,
            "f_user": self.buyer_id,
            "f_seats": self.seats,
            "f_max_pending": self.max_pending,
        }


def claim_ctes(share: Share, after: str | None) -> tuple[list[str], str, list[str]]:
    """The claims as CTEs: (ctes, the last CTE's name, one `taken` boolean per claim)."""
    ctes: list[str] = []
    previous = after
    if share.pending:
        guard = f" AND EXISTS (SELECT 1 FROM {previous})" if previous else ""
        ctes.append(f"f_n AS ({_CLAIM_PENDING.format(guard=guard)})")
        previous = "f_n"
    guard = f" AND EXISTS (SELECT 1 FROM {previous})" if previous else ""
    ctes.append(f"f_h AS ({_CLAIM_HOLD.format(guard=guard)})")
    pending_taken = "EXISTS (SELECT 1 FROM f_n)" if share.pending else "TRUE"
    return ctes, "f_h", [pending_taken, "EXISTS (SELECT 1 FROM f_h)"]


async def claim(session: AsyncSession, event_id: int, share: Share) -> None:
    """The same claims one statement at a time (SQLite); raises LimitExceeded."""
    params = share.params(event_id)
    if share.pending:
        taken = await session.execute(text(_CLAIM_PENDING.format(guard="")), params)
        raise_unless_claimed(share, taken.first() is not None, True)
    taken = await session.execute(text(_CLAIM_HOLD.format(guard="")), params)
    raise_unless_claimed(share, True, taken.first() is not None)


def raise_unless_claimed(share: Share, pending_taken: bool, hold_taken: bool) -> None:
    if not pending_taken:
        raise LimitExceeded(
            f"at most {share.max_pending} unpaid orders at once: pay or cancel one first",
            field="items",
        )
    if not hold_taken:
        cap = f" ({share.cap})" if share.cap is not None else ""
        raise LimitExceeded(
            f"this would exceed the tickets one account may hold for this event{cap}",
            field="items.quantity",
        )


async def give_back(session: AsyncSession, event_id: int, buyer_id: int, seats: int) -> None:
    """Lower the buyer's hold; only the winner of the status change that frees seats calls it."""
    await session.execute(
        text(_GIVE_BACK), {"f_event": event_id, "f_user": buyer_id, "f_seats": seats}
    )


async def leave_pending(session: AsyncSession, order_id: int) -> None:
    """The order just left PENDING: its buyer has one pending slot back."""
    await session.execute(text(LEAVE_PENDING), {"order_id": order_id})
