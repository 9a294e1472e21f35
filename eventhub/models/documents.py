"""Trusted documents: the operations first-party apps were built with, by their id (hash)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Column, Text
from sqlmodel import Field, SQLModel

from eventhub.models.base import UTCDateTime, utc_now


class TrustedDocument(SQLModel, table=True):
    __tablename__ = "trusted_documents"

    id: int | None = Field(default=None, primary_key=True)
    # The manifest's key: a sha256 hex digest (Codegen, Apollo) or another id (Relay's md5).
    document_id: str = Field(max_length=128, unique=True)
    body: str = Field(sa_column=Column(Text, nullable=False))
    added_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
