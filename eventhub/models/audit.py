"""The append-only audit trail; database triggers refuse updates and deletes."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from eventhub.models.base import UTCDateTime, utc_now


class AuditEntry(SQLModel, table=True):
    __tablename__ = "audit_entries"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, index=True)
    actor_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="SET NULL"), index=True),
    )
    action: str = Field(max_length=64, index=True)
    target_type: str | None = Field(default=None, max_length=32)
    target_id: str | None = Field(default=None, max_length=64)
    ip: str | None = Field(default=None, max_length=64)
    details: str | None = Field(default=None)  # JSON text
