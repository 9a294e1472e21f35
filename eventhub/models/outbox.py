"""The transactional outbox: messages written with the change they report, and their deliveries.

A message is inserted in the same transaction as the state change, so it exists
exactly when the change committed. Delivery happens later, per channel (webhook,
e-mail) and target, each delivery retried on its own schedule.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, Integer, Text
from sqlmodel import Field, SQLModel

from eventhub.models.base import UTCDateTime, utc_now


class OutboxMessage(SQLModel, table=True):
    __tablename__ = "outbox_messages"

    id: int | None = Field(default=None, primary_key=True)
    uid: str = Field(max_length=40, unique=True)  # webhook-id / Message-ID: the same on retries
    kind: str = Field(max_length=48, index=True)  # e.g. "order.paid"
    organizer_id: int | None = Field(default=None)  # whose endpoints hear it
    event_id: int | None = Field(default=None, index=True)
    payload: str = Field(sa_type=Text)  # JSON: {"type", "timestamp", "data"}
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    # Set once the message's deliveries were created (fan-out); NULL while waiting.
    routed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


class OutboxDelivery(SQLModel, table=True):
    """One message to one target over one channel; retried until delivered or 3 days old."""

    __tablename__ = "outbox_deliveries"
    __table_args__ = (
        Index("ix_outbox_deliveries_due", "status", "next_attempt_at"),
        Index("ix_outbox_deliveries_target", "channel", "target", "id"),
    )

    id: int | None = Field(default=None, primary_key=True)
    message_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("outbox_messages.id", ondelete="CASCADE"), nullable=False
        )
    )
    channel: str = Field(max_length=16)  # "webhook" | "email"
    target: str = Field(max_length=320)  # the endpoint's id, or an address
    status: str = Field(default="PENDING", max_length=12)  # PENDING | DELIVERED | FAILED
    attempts: int = 0
    # When it is due; a worker that claims it moves this past its lease, so a
    # worker that dies mid-delivery leaves it due again once the lease runs out.
    next_attempt_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
