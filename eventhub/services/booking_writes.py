"""Writing a priced order: its row, items, tickets, audit entry, then the seats.

This is the hottest path in the service, so it skips the ORM's unit of work
(its bookkeeping for four objects cost more CPU than the database spends on
the whole transaction). On PostgreSQL everything is one statement: the inserts
as data-modifying CTEs, then `inventory.seat_updates` chained after them, so
the hot rows (tier, event, promo) are locked last and held only until the
COMMIT that follows. SQLite runs the same writes one statement at a time.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.live import signals
from eventhub.models import AuditEntry, Order, OrderItem, Ticket
from eventhub.models.base import table_of
from eventhub.services import fair_share, inventory, tickets

ORDERS = table_of(Order)
ITEMS = table_of(OrderItem)
TICKETS = table_of(Ticket)
AUDIT = table_of(AuditEntry)


@dataclass(frozen=True)
class ItemRow:
    ticket_type_id: int
    quantity: int
    unit_price_minor: int
    unit_discount_minor: int


@dataclass(frozen=True)
class OrderDraft:
    """Everything the transaction writes, computed before it starts."""

    order: dict[str, Any]  # orders columns, without id
    items: list[ItemRow]
    issue_tickets: bool
    share: fair_share.Share
    audit: dict[str, Any]  # audit_entries columns without target_id (the new order's id)
    now: datetime

    @property
    def per_tier(self) -> dict[int, int]:
        return {item.ticket_type_id: item.quantity for item in self.items}


async def write_order(session: AsyncSession, draft: OrderDraft) -> int:
    """Insert the order and take its seats, uncommitted; returns the order id.

    Raises SoldOut / PromoExhausted (the caller rolls back) and IntegrityError
    for a repeated idempotency key.
    """
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        return await _write_in_one_statement(session, draft)
    return await _write_step_by_step(session, draft)


async def _write_step_by_step(session: AsyncSession, draft: OrderDraft) -> int:
    inserted = await session.execute(insert(ORDERS).values(draft.order).returning(ORDERS.c.id))
    order_id = int(inserted.scalar_one())
    await session.execute(
        insert(ITEMS),
        [
            {
                "order_id": order_id,
                "ticket_type_id": item.ticket_type_id,
                "quantity": item.quantity,
                "unit_price_minor": item.unit_price_minor,
                "unit_discount_minor": item.unit_discount_minor,
            }
            for item in draft.items
        ],
    )
    if draft.issue_tickets:
        seats = list(draft.per_tier.items())
        rows = tickets.ticket_rows(order_id, draft.order["event_id"], seats, draft.now)
        await session.execute(insert(TICKETS), rows)
    await session.execute(insert(AUDIT).values({**draft.audit, "target_id": str(order_id)}))
    await inventory.take_seats(
        session, draft.order["event_id"], draft.per_tier, draft.order["promo_code_id"], draft.share
    )
    return order_id


ORDER_COLUMNS = (
    "event_id",
    "buyer_id",
    "status",
    "promo_code_id",
    "promo_code",
    "currency",
    "subtotal_minor",
    "discount_minor",
    "total_minor",
    "expires_at",
    "idempotency_key",
    "payment_provider",
    "payment_status",
    "created_at",
    "paid_at",
)
# In INSERT … SELECT a bind parameter has no column to take its type from: cast it.
AUDIT_COLUMNS = {
    "at": "TIMESTAMPTZ",
    "actor_id": "INTEGER",
    "action": "TEXT",
    "target_type": "TEXT",
    "ip": "TEXT",
    "details": "TEXT",
}


def _inserts_sql() -> str:
    """o (the order), i (its items), k (its tickets, when issued), a (the audit entry)."""
    order_values = ", ".join(f":o_{c}" for c in ORDER_COLUMNS)
    audit_values = ", ".join(f"CAST(:a_{c} AS {kind})" for c, kind in AUDIT_COLUMNS.items())
    return (
        f"o AS (INSERT INTO orders ({', '.join(ORDER_COLUMNS)}) VALUES ({order_values}) "
        "RETURNING id), "
        "i AS (INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price_minor, "
        "unit_discount_minor) SELECT o.id, x.tier, x.quantity, x.price, x.discount FROM o, "
        "unnest(CAST(:i_tiers AS INTEGER[]), CAST(:i_quantities AS INTEGER[]), "
        "CAST(:i_prices AS BIGINT[]), CAST(:i_discounts AS BIGINT[])) "
        "AS x(tier, quantity, price, discount) RETURNING 1), "
        "k AS (INSERT INTO tickets (order_id, event_id, ticket_type_id, status, created_at) "
        "SELECT o.id, CAST(:o_event_id AS INTEGER), x.tier, 'VALID', "
        "CAST(:o_created_at AS TIMESTAMPTZ) FROM o, "
        "unnest(CAST(:k_tiers AS INTEGER[])) AS x(tier) RETURNING 1), "
        f"a AS (INSERT INTO audit_entries ({', '.join(AUDIT_COLUMNS)}, target_id) "
        f"SELECT {audit_values}, CAST(o.id AS TEXT) FROM o RETURNING 1)"
    )


async def _write_in_one_statement(session: AsyncSession, draft: OrderDraft) -> int:
    event_id = int(draft.order["event_id"])
    seats = inventory.seat_updates(
        event_id, draft.per_tier, draft.order["promo_code_id"], draft.share, after="a"
    )
    notify, notify_params = inventory.notify_sql(event_id)
    signals.touched(session, event_id)
    sql = (
        f"WITH {_inserts_sql()}, {', '.join(seats.ctes)} "
        f"SELECT (SELECT id FROM o), {seats.taken}, {notify}"
    )
    ticket_tiers = (
        [tier for tier, quantity in draft.per_tier.items() for _ in range(quantity)]
        if draft.issue_tickets
        else []
    )
    params: dict[str, Any] = {
        **{f"o_{c}": draft.order[c] for c in ORDER_COLUMNS},
        **{f"a_{c}": draft.audit[c] for c in AUDIT_COLUMNS},
        "i_tiers": [item.ticket_type_id for item in draft.items],
        "i_quantities": [item.quantity for item in draft.items],
        "i_prices": [item.unit_price_minor for item in draft.items],
        "i_discounts": [item.unit_discount_minor for item in draft.items],
        "k_tiers": ticket_tiers,
        **seats.params,
        **notify_params,
    }
    row = (await session.execute(text(sql), params)).one()
    flags = row[1 : 1 + inventory.TAKEN_FLAGS]
    inventory.raise_unless_taken(draft.share, *(bool(flag) for flag in flags))
    return int(row[0])
