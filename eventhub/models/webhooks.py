"""Organizers' webhook endpoints and the log of every attempt to reach them."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from eventhub.models.base import UTCDateTime, utc_now


class WebhookEndpoint(SQLModel, table=True):
    __tablename__ = "webhook_endpoints"

    id: int | None = Field(default=None, primary_key=True)
    organizer_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), nullable=False, index=True
        )
    )
    url: str = Field(max_length=2000)
    event_types: str = Field(max_length=500)  # comma-separated kinds, e.g. "order.paid"
    event_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("events.id", ondelete="CASCADE"), nullable=True),
    )
    secret: str = Field(max_length=100)  # "whsec_<base64>"
    # After a rotation the old secret still signs for 24 h, beside the new one.
    previous_secret: str | None = Field(default=None, max_length=100)
    previous_secret_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    enabled: bool = True
    disabled_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    disabled_reason: str | None = Field(default=None, max_length=200)
    # First failure of the current run of failures; cleared by a success.
    failing_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)


class WebhookAttempt(SQLModel, table=True):
    __tablename__ = "webhook_attempts"

    id: int | None = Field(default=None, primary_key=True)
    delivery_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("outbox_deliveries.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    endpoint_id: int = Field(
        sa_column=Column(
            Integer,
            ForeignKey("webhook_endpoints.id", ondelete="CASCADE"),
            nullable=False,
            index=True,
        )
    )
    at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    status_code: int | None = None
    latency_ms: int = 0
    response_excerpt: str | None = Field(default=None, max_length=500)
    error: str | None = Field(default=None, max_length=300)
