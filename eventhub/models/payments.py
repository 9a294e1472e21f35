"""Payment-provider events already handled, so a replayed webhook does nothing."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import UniqueConstraint
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
