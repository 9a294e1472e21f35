"""Accounts and the refresh tokens that keep them signed in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel

from eventhub.models.base import UTCDateTime, utc_now

ROLES = ("CUSTOMER", "ORGANIZER", "STAFF", "ADMIN")


class User(SQLModel, table=True):
    __tablename__ = "users"
    __table_args__ = (
        CheckConstraint(
            "birth_year IS NULL OR birth_year BETWEEN 1900 AND 2100", name="birth_year"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(max_length=254, unique=True, index=True)  # stored lower-cased
    name: str = Field(max_length=200)
    password_hash: str = Field(max_length=255)
    roles: str = Field(default="CUSTOMER", max_length=100)  # comma-separated Role names
    is_active: bool = Field(default=True)
    birth_year: int | None = Field(default=None)
    country: str | None = Field(default=None, max_length=2)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    deactivated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def role_set(self) -> frozenset[str]:
        return frozenset(r for r in self.roles.split(",") if r)


class RefreshToken(SQLModel, table=True):
    """One opaque refresh token, stored only as a hash; tokens of one sign-in share a family."""

    __tablename__ = "refresh_tokens"

    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    token_hash: str = Field(max_length=64, unique=True, index=True)
    family_id: str = Field(max_length=36, index=True)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime)
    expires_at: datetime = Field(sa_type=UTCDateTime)
    rotated_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
