"""The audit trail: every sensitive action appends one entry, and nothing edits them."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import AuditEntry
from eventhub.models.base import utc_now
from eventhub.services.pagination import Page, fetch_page


@dataclass(frozen=True)
class Actor:
    """Who did it and from where; `user_id` None means the system (sweeper, webhooks)."""

    user_id: int | None = None
    ip: str | None = None
    roles: frozenset[str] = frozenset()  # what it may do: services/access.py


SYSTEM = Actor()


def record(
    session: AsyncSession,
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry to the caller's transaction, so it commits (or not) with the change."""
    entry = AuditEntry(
        **entry_values(actor, action, target_type=target_type, target_id=target_id, details=details)
    )
    session.add(entry)
    return entry


def entry_values(
    actor: Actor,
    action: str,
    *,
    target_type: str | None = None,
    target_id: object = None,
    details: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The columns of one entry, for callers that insert with Core (the booking hot path)."""
    return {
        "at": utc_now(),
        "actor_id": actor.user_id,
        "action": action,
        "target_type": target_type,
        "target_id": None if target_id is None else str(target_id),
        "ip": actor.ip,
        "details": json.dumps(dict(details), default=str, sort_keys=True) if details else None,
    }


async def record_now(session: AsyncSession, actor: Actor, action: str, **kwargs: Any) -> None:
    """Append and commit now: for outcomes (failed login, token reuse) that change nothing else."""
    record(session, actor, action, **kwargs)
    await session.commit()


async def get_entry(session: AsyncSession, entry_id: int) -> AuditEntry | None:
    return await session.get(AuditEntry, entry_id)


async def list_entries(
    session: AsyncSession,
    *,
    limit: int,
    before_id: int | None = None,
    action: str | None = None,
    actor_id: int | None = None,
) -> Page[AuditEntry]:
    """Newest first, keyset-paginated by id."""
    conditions: list[ColumnElement[bool]] = []
    if action:
        conditions.append(col(AuditEntry.action) == action)
    if actor_id is not None:
        conditions.append(col(AuditEntry.actor_id) == actor_id)
    return await fetch_page(
        session,
        AuditEntry,
        conditions=conditions,
        after=None if before_id is None else col(AuditEntry.id) < before_id,
        order_by=[col(AuditEntry.id).desc()],
        limit=limit,
    )
