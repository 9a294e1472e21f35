"""Retired QR signing keys: shared by every worker and host through the database."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from eventhub.models.base import UTCDateTime, utc_now


class RetiredTicketKey(SQLModel, table=True):
    __tablename__ = "retired_ticket_keys"

    # The key id as tokens and ticketVerificationKeys show it (base64url of 4 bytes).
    kid: str = Field(max_length=16, primary_key=True)
    retired_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
