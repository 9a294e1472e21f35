"""Retired QR signing keys, recorded in the database so every worker and host sees them."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import RetiredTicketKey


async def retired_kids(session: AsyncSession) -> set[str]:
    """Every retired key id: a handful of rows, read by each worker every second."""
    rows = await session.scalars(select(col(RetiredTicketKey.kid)))
    kids = set(rows.all())
    await session.rollback()  # end the read: SQLite writers must not wait for it
    return kids


async def retire(session: AsyncSession, kid: str) -> bool:
    """Record a retirement; False when the key was already retired (nothing changes)."""
    if await session.get(RetiredTicketKey, kid) is not None:
        return False
    session.add(RetiredTicketKey(kid=kid))
    await session.commit()
    return True
