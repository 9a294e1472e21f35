"""Events with their ticket tiers, promo codes and door staff.

The CHECK constraints are the last line of defence behind the booking
service's conditional updates: even a buggy query cannot oversell.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from eventhub.models.base import MinorUnits, UTCDateTime, utc_now
from eventhub.models.statuses import EventStatus, status_check


def _fk(target: str, *, nullable: bool = False, ondelete: str = "CASCADE") -> Column[int]:
    return Column(Integer, ForeignKey(target, ondelete=ondelete), index=True, nullable=nullable)


SEARCHED_COLUMNS = ("name", "venue", "description")


def _trigram_index(column: str) -> Index:
    """PostgreSQL (pg_trgm): serves `lower(column) LIKE '%text%'` (services/event_listings.py)."""
    return Index(
        f"ix_events_{column}_trgm", text(f"lower({column}) gin_trgm_ops"), postgresql_using="gin"
    ).ddl_if(dialect="postgresql")


class Event(SQLModel, table=True):
    __tablename__ = "events"
    __table_args__ = (
        CheckConstraint("capacity >= 1", name="capacity_positive"),
        CheckConstraint("sold >= 0 AND sold <= capacity", name="sold_within_capacity"),
        CheckConstraint(status_check(EventStatus), name="status"),
        CheckConstraint(
            "max_per_customer IS NULL OR max_per_customer >= 1", name="max_per_customer_positive"
        ),
        # The catalogue's order and keyset: a page is one index seek at any depth.
        Index(
            "ix_events_published_starts_at_id",
            "starts_at",
            "id",
            postgresql_where=text("status = 'PUBLISHED'"),
            sqlite_where=text("status = 'PUBLISHED'"),
        ),
        Index("ix_events_organizer_starts_at_id", "organizer_id", "starts_at", "id"),
        # The catalogue's "not over yet" condition, so counting it reads only what matches.
        Index(
            "ix_events_published_end",
            text("coalesce(ends_at, starts_at)"),
            postgresql_where=text("status = 'PUBLISHED'"),
            sqlite_where=text("status = 'PUBLISHED'"),
        ),
        *(_trigram_index(column) for column in SEARCHED_COLUMNS),
    )

    id: int | None = Field(default=None, primary_key=True)
    organizer_id: int = Field(sa_column=_fk("users.id", ondelete="RESTRICT"))
    name: str = Field(max_length=200)
    description: str | None = Field(default=None)
    venue: str | None = Field(default=None, max_length=300)
    starts_at: datetime = Field(sa_type=UTCDateTime, index=True)
    ends_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    status: str = Field(default=EventStatus.DRAFT, max_length=16, index=True)
    capacity: int
    sold: int = Field(default=0)
    currency: str = Field(default="USD", max_length=3)
    # Seats one account may hold across its PENDING and PAID orders; NULL = no cap.
    max_per_customer: int | None = Field(default=None)
    image_path: str | None = Field(default=None, max_length=300)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class TicketType(SQLModel, table=True):
    __tablename__ = "ticket_types"
    __table_args__ = (
        UniqueConstraint("event_id", "name", name="uq_ticket_types_event_name"),
        CheckConstraint("seat_limit >= 0", name="limit_non_negative"),
        CheckConstraint("sold >= 0 AND sold <= seat_limit", name="sold_within_limit"),
        CheckConstraint("price_minor >= 0", name="price_non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(sa_column=_fk("events.id"))
    name: str = Field(max_length=100)
    price_minor: int = Field(sa_type=MinorUnits)
    seat_limit: int
    sold: int = Field(default=0)
    sales_start_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    sales_end_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    position: int = Field(default=0)


class PromoCode(SQLModel, table=True):
    """A discount; `amount` is basis points (PERCENT) or minor units off each ticket (FIXED)."""

    __tablename__ = "promo_codes"
    __table_args__ = (
        UniqueConstraint("event_id", "code", name="uq_promo_codes_event_code"),
        CheckConstraint(
            "uses >= 0 AND (max_uses IS NULL OR uses <= max_uses)", name="uses_within_max"
        ),
        CheckConstraint("kind IN ('PERCENT', 'FIXED')", name="kind"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(sa_column=_fk("events.id"))
    code: str = Field(max_length=64)  # stored upper-cased: codes are case-insensitive
    kind: str = Field(max_length=8)
    amount: int = Field(sa_type=MinorUnits)  # minor units, or basis points for PERCENT
    max_uses: int | None = Field(default=None)
    uses: int = Field(default=0)
    valid_from: datetime | None = Field(default=None, sa_type=UTCDateTime)
    valid_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ticket_type_names: str | None = Field(default=None)  # JSON list; NULL = every tier


class EventStaff(SQLModel, table=True):
    """Door staff assigned to one event; only they (and its organizer) scan its tickets."""

    __tablename__ = "event_staff"

    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
