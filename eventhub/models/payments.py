"""Payment-provider events already handled, and provider work still owed for an order."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from eventhub.models.base import UTCDateTime, utc_now


class ProcessedProviderEvent(SQLModel, table=True):
    __tablename__ = "processed_provider_events"
    __table_args__ = (
        UniqueConstraint("provider", "provider_event_id", name="uq_processed_provider_events"),
    )

    id: int | None = Field(default=None, primary_key=True)
    provider: str = Field(max_length=16)
    provider_event_id: str = Field(max_length=255)
    event_type: str = Field(max_length=64)
    received_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class PaymentTask(SQLModel, table=True):
    """Work owed to the payment provider for one order: a refund or an intent cancel.

    The row is the claim. Whoever inserts it (or takes it over once `claimed_until`
    has passed, by a conditional update on `attempts`) is the only one calling the
    provider for it; the row is deleted in the transaction that records the outcome.
    A row left behind means the outcome is unknown, and the sweeper retries it at
    `retry_at`.
    """

    __tablename__ = "payment_tasks"

    order_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True, nullable=False
        )
    )
    kind: str = Field(max_length=16, primary_key=True)  # "refund" or "cancel_intent"
    attempts: int = Field(default=1)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    retry_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, index=True)
    # A refund's request, so whoever finishes it can audit it as asked.
    from_status: str | None = Field(default=None, max_length=16)
    actor_id: int | None = Field(default=None)
    action: str | None = Field(default=None, max_length=64)
    reason: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
