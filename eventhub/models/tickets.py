"""Tickets: one row per paid seat."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from eventhub.models.base import UTCDateTime, utc_now
from eventhub.models.statuses import TicketStatus, status_check


class Ticket(SQLModel, table=True):
    __tablename__ = "tickets"
    __table_args__ = (CheckConstraint(status_check(TicketStatus), name="status"),)

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("orders.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    event_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("events.id", ondelete="RESTRICT"), index=True, nullable=False
        )
    )
    ticket_type_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("ticket_types.id", ondelete="RESTRICT"), index=True, nullable=False
        )
    )
    status: str = Field(default=TicketStatus.VALID, max_length=8, index=True)
    checked_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    checked_in_by_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), index=True),
    )
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
