"""Browsing events: the public catalogue and an organizer's own list, keyset-paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import Event, TicketType
from eventhub.services.pagination import Page, fetch_page

EventKey = tuple[datetime, int]


@dataclass(frozen=True)
class EventFilter:
    search: str | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None


def _after(key: EventKey | None) -> ColumnElement[bool] | None:
    if key is None:
        return None
    starts_at, event_id = key
    return or_(
        Event.starts_at > starts_at,  # type: ignore[arg-type,operator]
        and_(Event.starts_at == starts_at, Event.id > event_id),  # type: ignore[arg-type,operator]
    )


def _search(text: str) -> ColumnElement[bool]:
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = f"%{escaped}%"
    return or_(
        func.lower(Event.name).like(pattern, escape="\\"),
        func.lower(func.coalesce(Event.venue, "")).like(pattern, escape="\\"),
        func.lower(func.coalesce(Event.description, "")).like(pattern, escape="\\"),
    )


async def published_events(
    session: AsyncSession, *, limit: int, after: EventKey | None, filters: EventFilter
) -> Page[Event]:
    """Published events that have not ended, soonest first."""
    now = datetime.now(UTC)
    conditions: list[ColumnElement[bool]] = [
        Event.status == "PUBLISHED",  # type: ignore[list-item]
        func.coalesce(Event.ends_at, Event.starts_at) >= now,
    ]
    if filters.search and filters.search.strip():
        conditions.append(_search(filters.search))
    if filters.starts_after:
        conditions.append(Event.starts_at >= filters.starts_after)  # type: ignore[arg-type]
    if filters.starts_before:
        conditions.append(Event.starts_at < filters.starts_before)  # type: ignore[arg-type]
    return await fetch_page(
        session,
        Event,
        conditions=conditions,
        after=_after(after),
        order_by=[Event.starts_at, Event.id],
        limit=limit,
    )


async def organizer_events(
    session: AsyncSession, organizer_id: int, *, limit: int, after: EventKey | None
) -> Page[Event]:
    """Every event of one organizer, drafts and cancelled included."""
    return await fetch_page(
        session,
        Event,
        conditions=[Event.organizer_id == organizer_id],  # type: ignore[list-item]
        after=_after(after),
        order_by=[Event.starts_at, Event.id],
        limit=limit,
    )


async def load_events(session: AsyncSession, ids: list[int]) -> list[Event | None]:
    rows = await session.scalars(select(Event).where(Event.id.in_(ids)))  # type: ignore[union-attr]
    by_id = {e.id: e for e in rows}
    return [by_id.get(i) for i in ids]


async def load_tiers_by_event(
    session: AsyncSession, event_ids: list[int]
) -> list[list[TicketType]]:
    rows = await session.scalars(
        select(TicketType)
        .where(TicketType.event_id.in_(event_ids))  # type: ignore[attr-defined]
        .order_by(TicketType.event_id, TicketType.position, TicketType.id)
    )
    grouped: dict[int, list[TicketType]] = {i: [] for i in event_ids}
    for tier in rows:
        grouped[tier.event_id].append(tier)
    return [grouped[i] for i in event_ids]


async def load_tiers(session: AsyncSession, ids: list[int]) -> list[TicketType | None]:
    rows = await session.scalars(select(TicketType).where(TicketType.id.in_(ids)))  # type: ignore[union-attr]
    by_id = {t.id: t for t in rows}
    return [by_id.get(i) for i in ids]
