"""Sales figures (and accounts per role) kept up to date by database triggers, so analytics
never scan orders or users.

Every figure here is a sum the triggers in `sales_triggers.py` add to (and take
from) in the same transaction as the change to orders, order_items or tickets
that moves it: a booking, a payment, a refund, a cancel, an expiry, a check-in.
`services/sales_rollup.py` recomputes them all from scratch (`eventhub
analytics rebuild`) and compares (the tests do after every invariant check).

Measures per order, over orders that were paid (PAID or REFUNDED) or still
have live tickets: `orders`, `gross` (total), `discounts`, `refunds` (total of
REFUNDED ones), `paid_orders`/`paid_total`/`seats` (PAID only: count, total,
item quantities), `tickets` (non-VOID) and `checked_in` (USED). Hours are the
UTC hour of the order's `paid_at` (its `created_at` until paid).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, ForeignKey, Index, Integer, String, Table
from sqlmodel import SQLModel

from eventhub.models.base import UTCDateTime

ORDER_MEASURES = (
    "orders",
    "gross",
    "discounts",
    "refunds",
    "paid_orders",
    "paid_total",
    "seats",
    "tickets",
    "checked_in",
)
TIER_MEASURES = ("seats", "revenue")


def _measures(names: tuple[str, ...]) -> list[Column[int]]:
    return [Column(name, BigInteger, nullable=False, server_default="0") for name in names]


def _event_fk(*, primary_key: bool) -> Column[int]:
    return Column(
        "event_id",
        Integer,
        ForeignKey("events.id", ondelete="CASCADE"),
        primary_key=primary_key,
        nullable=False,
    )


def _tier_fk() -> Column[int]:
    return Column(
        "ticket_type_id",
        Integer,
        ForeignKey("ticket_types.id", ondelete="CASCADE"),
        primary_key=True,
    )


EVENT_SALES = Table(
    "event_sales",
    SQLModel.metadata,
    _event_fk(primary_key=True),
    Column("currency", String(3), nullable=False),
    *_measures(ORDER_MEASURES),
    Index("ix_event_sales_tickets", "tickets"),
)

SALES_HOURS = Table(
    "sales_hours",
    SQLModel.metadata,
    _event_fk(primary_key=True),
    Column("hour", UTCDateTime(), primary_key=True),
    Column("currency", String(3), nullable=False),
    *_measures(ORDER_MEASURES),
    Index("ix_sales_hours_hour", "hour"),
)

TIER_SALES = Table(
    "tier_sales",
    SQLModel.metadata,
    _tier_fk(),
    _event_fk(primary_key=False),
    *_measures(TIER_MEASURES),
    Index("ix_tier_sales_event_id", "event_id"),
)

TIER_SALES_HOURS = Table(
    "tier_sales_hours",
    SQLModel.metadata,
    _tier_fk(),
    Column("hour", UTCDateTime(), primary_key=True),
    _event_fk(primary_key=False),
    *_measures(TIER_MEASURES),
    Index("ix_tier_sales_hours_event_id_hour", "event_id", "hour"),
)

PROMO_SALES_HOURS = Table(
    "promo_sales_hours",
    SQLModel.metadata,
    _event_fk(primary_key=True),
    Column("promo_code", String(64), primary_key=True),
    Column("hour", UTCDateTime(), primary_key=True),
    *_measures(("orders",)),
)

# PAID orders per (event, buyer); a buyer counts in their (birth year, country) group
# while they have one. 0 and '' stand for "not given" (key columns cannot be NULL).
EVENT_BUYERS = Table(
    "event_buyers",
    SQLModel.metadata,
    _event_fk(primary_key=True),
    Column("buyer_id", Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True),
    *_measures(("paid_orders",)),
)

EVENT_BUYER_GROUPS = Table(
    "event_buyer_groups",
    SQLModel.metadata,
    _event_fk(primary_key=True),
    Column("birth_year", Integer, primary_key=True),
    Column("country", String(2), primary_key=True),
    *_measures(("buyers",)),
)

# Active accounts per role (roles are comma-separated on users; none is part of another).
ROLE_COUNTS = Table(
    "role_counts",
    SQLModel.metadata,
    Column("role", String(16), primary_key=True),
    *_measures(("users",)),
)

# Each maintained table: its primary key and its measures (in rebuild order).
MAINTAINED: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "event_sales": (("event_id",), ORDER_MEASURES),
    "sales_hours": (("event_id", "hour"), ORDER_MEASURES),
    "tier_sales": (("ticket_type_id",), TIER_MEASURES),
    "tier_sales_hours": (("ticket_type_id", "hour"), TIER_MEASURES),
    "promo_sales_hours": (("event_id", "promo_code", "hour"), ("orders",)),
    "event_buyers": (("event_id", "buyer_id"), ("paid_orders",)),
    "event_buyer_groups": (("event_id", "birth_year", "country"), ("buyers",)),
    "role_counts": (("role",), ("users",)),
}
