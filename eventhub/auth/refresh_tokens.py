"""Opaque, single-use refresh tokens that rotate on every use.

Only a SHA-256 of each token is stored. Rotation is a conditional update, so
two refreshes racing with one token cannot both succeed; presenting a token
that was already rotated revokes its whole family, so a stolen token dies
the first time either party uses it again.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import RefreshToken
from eventhub.services.errors import InvalidCredentials, TokenReused


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class Rotation:
    user_id: int
    new_token: str


def issue(
    session: AsyncSession, user_id: int, ttl_seconds: int, family_id: str | None = None
) -> str:
    """Add a new token to the caller's transaction and return its clear text."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    session.add(
        RefreshToken(
            user_id=user_id,
            token_hash=hash_token(token),
            family_id=family_id or str(uuid.uuid4()),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_seconds),
        )
    )
    return token


async def rotate(session: AsyncSession, token: str, ttl_seconds: int) -> Rotation:
    """Spend `token` and issue its successor in the same family (not committed)."""
    row = (
        await session.scalars(
            select(RefreshToken).where(col(RefreshToken.token_hash) == hash_token(token))
        )
    ).first()
    now = datetime.now(UTC)
    if row is None or row.expires_at <= now:
        raise InvalidCredentials("refresh token is invalid or expired", field="refreshToken")
    if row.rotated_at is not None:
        await revoke_family(session, row.family_id)
        raise _reused(row)
    if row.revoked_at is not None:  # logged out, deactivated, or its family was revoked
        raise InvalidCredentials("refresh token was revoked; please sign in again")
    spent = await session.execute(
        update(RefreshToken)
        .where(
            col(RefreshToken.id) == row.id,
            col(RefreshToken.rotated_at).is_(None),
            col(RefreshToken.revoked_at).is_(None),
        )
        .values(rotated_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        await revoke_family(session, row.family_id)
        raise _reused(row)
    return Rotation(row.user_id, issue(session, row.user_id, ttl_seconds, row.family_id))


def _reused(row: RefreshToken) -> TokenReused:
    return TokenReused(
        "refresh token was already used; please sign in again",
        user_id=row.user_id,
        family_id=row.family_id,
    )


async def revoke_family(session: AsyncSession, family_id: str) -> None:
    await session.execute(
        update(RefreshToken)
        .where(col(RefreshToken.family_id) == family_id, col(RefreshToken.revoked_at).is_(None))
        .values(revoked_at=datetime.now(UTC))
    )


async def revoke(session: AsyncSession, token: str) -> int | None:
    """Revoke the token's family (logout); returns the owner, or None for an unknown token."""
    row = (
        await session.scalars(
            select(RefreshToken).where(col(RefreshToken.token_hash) == hash_token(token))
        )
    ).first()
    if row is None:
        return None
    await revoke_family(session, row.family_id)
    return row.user_id
