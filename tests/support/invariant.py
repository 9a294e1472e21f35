"""The seat-accounting invariant, checked by SQL on what was really stored.

For every event: `sold` equals the sum of its tiers' `sold`, which equals the
seats of its PENDING and PAID orders; no tier or event is over its cap; a
promo code's `uses` counts the live orders that use it; live (non-VOID)
tickets exist exactly for the seats of PAID orders, tier by tier, and a
REFUNDED order keeps all its tickets, VOID (or never had any: a late payment
on an expired hold that could not re-take its seats is refunded at once).
The fair-share counters match too: each buyer's `customer_holds.held` is the
seats of that buyer's PENDING and PAID orders for the event, and
`customer_pending.pending` counts the buyer's PENDING orders.
And the analytics' maintained sales figures equal a recount from scratch.

Also here: `HoldingProvider`, a payment provider that does not pay at once,
so tests can make PENDING orders through the booking service.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import Order
from eventhub.services import sales_rollup
from eventhub.services.payments import PaymentInfo, RefundInfo
from tests.support.outbox_invariant import outbox_problems

LIVE = "('PENDING', 'PAID')"

EVENTS = f"""
SELECT e.id, e.sold, e.capacity,
  (SELECT COALESCE(SUM(t.sold), 0) FROM ticket_types t WHERE t.event_id = e.id) AS tier_sold,
  (SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id
    WHERE o.event_id = e.id AND o.status IN {LIVE}) AS held
FROM events e ORDER BY e.id"""

TIERS = f"""
SELECT t.id, t.name, t.sold, t.seat_limit,
  (SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id
    WHERE i.ticket_type_id = t.id AND o.status IN {LIVE}) AS held
FROM ticket_types t ORDER BY t.id"""

PROMOS = f"""
SELECT p.id, p.code, p.uses, p.max_uses,
  (SELECT COUNT(*) FROM orders o WHERE o.promo_code_id = p.id AND o.status IN {LIVE}) AS live
FROM promo_codes p ORDER BY p.id"""

ORDERS = """
SELECT o.id, o.status,
  (SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i WHERE i.order_id = o.id) AS seats,
  (SELECT COUNT(*) FROM tickets k WHERE k.order_id = o.id AND k.status <> 'VOID') AS live,
  (SELECT COUNT(*) FROM tickets k WHERE k.order_id = o.id) AS issued
FROM orders o ORDER BY o.id"""

# Per PAID order and tier: seats bought vs live tickets, where the two differ.
PAID_TIER_MISMATCH = """
SELECT i.order_id, i.ticket_type_id, SUM(i.quantity) AS seats,
  (SELECT COUNT(*) FROM tickets k WHERE k.order_id = i.order_id
    AND k.ticket_type_id = i.ticket_type_id AND k.status <> 'VOID') AS live
FROM order_items i JOIN orders o ON o.id = i.order_id
WHERE o.status = 'PAID'
GROUP BY i.order_id, i.ticket_type_id"""


# Per (event, buyer): the counter next to the live seats, where either is non-zero.
CUSTOMER_HOLDS = f"""
SELECT k.event_id, k.user_id, MAX(k.held) AS held, SUM(k.seats) AS seats FROM (
  SELECT event_id, user_id, held, 0 AS seats FROM customer_holds
  UNION ALL
  SELECT o.event_id, o.buyer_id, 0, i.quantity FROM orders o JOIN order_items i
    ON i.order_id = o.id WHERE o.status IN {LIVE}
) k GROUP BY k.event_id, k.user_id ORDER BY k.event_id, k.user_id"""

CUSTOMER_PENDING = """
SELECT k.user_id, MAX(k.pending) AS pending, SUM(k.orders) AS orders FROM (
  SELECT user_id, pending, 0 AS orders FROM customer_pending
  UNION ALL
  SELECT buyer_id, 0, 1 FROM orders WHERE status = 'PENDING'
) k GROUP BY k.user_id ORDER BY k.user_id"""


async def _rows(session: AsyncSession, sql: str) -> list[Any]:
    return list((await session.execute(text(sql))).all())


async def invariant_problems(session: AsyncSession) -> list[str]:
    """Every way the stored data breaks the invariant, in words (empty when it holds)."""
    problems: list[str] = []
    for e in await _rows(session, EVENTS):
        if not e.sold == e.tier_sold == e.held:
            problems.append(
                f"event {e.id}: sold={e.sold}, sum of tier sold={e.tier_sold}, "
                f"seats of PENDING+PAID orders={e.held}"
            )
        if e.sold > e.capacity:
            problems.append(f"event {e.id}: sold {e.sold} > capacity {e.capacity}")
    for t in await _rows(session, TIERS):
        if t.sold != t.held or t.sold > t.seat_limit:
            problems.append(
                f"tier {t.id} {t.name!r}: sold={t.sold}, limit={t.seat_limit}, "
                f"seats of PENDING+PAID orders={t.held}"
            )
    for p in await _rows(session, PROMOS):
        if p.uses != p.live or (p.max_uses is not None and p.uses > p.max_uses):
            problems.append(
                f"promo {p.id} {p.code}: uses={p.uses}, maxUses={p.max_uses}, "
                f"PENDING+PAID orders using it={p.live}"
            )
    for o in await _rows(session, ORDERS):
        expected_live = o.seats if o.status == "PAID" else 0
        if o.live != expected_live:
            problems.append(
                f"order {o.id} ({o.status}, {o.seats} seats) has {o.live} non-VOID tickets, "
                f"expected {expected_live}"
            )
        if o.status == "REFUNDED" and o.issued not in (0, o.seats):
            problems.append(f"order {o.id} (REFUNDED, {o.seats} seats) kept {o.issued} tickets")
    for m in await _rows(session, PAID_TIER_MISMATCH):
        if m.seats != m.live:
            problems.append(
                f"order {m.order_id} (PAID): tier {m.ticket_type_id} has {m.seats} seats "
                f"but {m.live} non-VOID tickets"
            )
    problems.extend(await fair_share_problems(session))
    problems.extend(await outbox_problems(session))
    # The analytics' maintained figures equal a count from scratch (services/sales_rollup.py).
    problems.extend(await sales_rollup.differences(session))
    return problems


async def fair_share_problems(session: AsyncSession) -> list[str]:
    """held == Σ live seats of that buyer, per event; pending == that buyer's PENDING orders."""
    problems = [
        f"buyer {c.user_id} at event {c.event_id}: held={c.held}, "
        f"seats of their PENDING+PAID orders={c.seats}"
        for c in await _rows(session, CUSTOMER_HOLDS)
        if c.held != c.seats
    ]
    problems += [
        f"buyer {c.user_id}: pending={c.pending}, PENDING orders={c.orders}"
        for c in await _rows(session, CUSTOMER_PENDING)
        if c.pending != c.orders
    ]
    return problems


async def check_invariant(session: AsyncSession) -> None:
    """Raise AssertionError listing every broken rule; the reads run in one snapshot.

    On PostgreSQL the reads use REPEATABLE READ, so a check during traffic sees
    one consistent state; the read transaction is ended (rolled back) after.
    Call it on a session with no pending changes.
    """
    if session.get_bind().dialect.name == "postgresql" and not session.in_transaction():
        await session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
    try:
        problems = await invariant_problems(session)
    finally:
        await session.rollback()
    if problems:
        raise AssertionError("seat accounting is broken:\n  " + "\n  ".join(problems))


class HoldingProvider:
    """A provider that does not pay at once: reservations stay PENDING and hold seats."""

    name = "test"
    pays_at_once = False

    def __init__(self) -> None:
        self.created: list[int] = []
        self.refunded: list[int] = []

    async def create_payment(self, order: Order) -> PaymentInfo:
        assert order.id is not None
        self.created.append(order.id)
        # Intent ids are unique per order in the database, as Stripe's are.
        return PaymentInfo(f"pi_{order.id}", "secret", "requires_payment_method")

    async def refund(self, order: Order) -> RefundInfo:
        assert order.id is not None
        self.refunded.append(order.id)
        return RefundInfo(f"re_{order.id}", "succeeded")

    async def find_refund(self, order: Order) -> RefundInfo | None:
        return RefundInfo(f"re_{order.id}", "succeeded") if order.id in self.refunded else None

    async def cancel_payment(self, order: Order) -> dict[str, Any]:
        return {"id": order.payment_intent_id, "status": "canceled"}
