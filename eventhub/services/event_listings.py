"""Browsing events: the public catalogue and an organizer's own list, keyset-paginated."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Protocol, cast

from sqlalchemy import ColumnElement, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import Event, TicketType
from eventhub.models.base import table_of
from eventhub.models.statuses import EventStatus
from eventhub.services.pagination import Page, fetch_page
from eventhub.services.text_search import contains

EventKey = tuple[datetime, int]
TIERS = table_of(TicketType)


class TierRow(Protocol):
    """What reading a tier needs: a TicketType, or a plain row of its table."""

    @property
    def id(self) -> int | None: ...
    @property
    def event_id(self) -> int: ...
    @property
    def name(self) -> str: ...
    @property
    def price_minor(self) -> int: ...
    @property
    def seat_limit(self) -> int: ...
    @property
    def sold(self) -> int: ...
    @property
    def sales_start_at(self) -> datetime | None: ...
    @property
    def sales_end_at(self) -> datetime | None: ...


@dataclass(frozen=True)
class EventFilter:
    search: str | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None


def _after(key: EventKey | None) -> ColumnElement[bool] | None:
    """`(starts_at, id) > cursor` as one row value, which an index on (starts_at, id) seeks to.

    (Written `a > s OR (a = s AND id > i)` it read every earlier row of the index.)
    """
    if key is None:
        return None
    return tuple_(col(Event.starts_at), col(Event.id)) > tuple_(*key)


def _search(text: str) -> ColumnElement[bool]:
    """Substring match on each text column as is: `lower(column)` matches PostgreSQL's trigram
    indexes (migration volume_read_indexes); a NULL venue or description just does not match."""
    return or_(
        contains(col(Event.name), text),
        contains(col(Event.venue), text),
        contains(col(Event.description), text),
    )


async def published_events(
    session: AsyncSession, *, limit: int, after: EventKey | None, filters: EventFilter
) -> Page[Event]:
    """Published events that have not ended, soonest first."""
    now = datetime.now(UTC)
    conditions: list[ColumnElement[bool]] = [
        col(Event.status) == EventStatus.PUBLISHED,
        func.coalesce(col(Event.ends_at), col(Event.starts_at)) >= now,
    ]
    if filters.search and filters.search.strip():
        conditions.append(_search(filters.search))
    if filters.starts_after:
        conditions.append(col(Event.starts_at) >= filters.starts_after)
    if filters.starts_before:
        conditions.append(col(Event.starts_at) < filters.starts_before)
    return await fetch_page(
        session,
        Event,
        conditions=conditions,
        after=_after(after),
        order_by=[col(Event.starts_at), col(Event.id)],
        limit=limit,
    )


async def organizer_events(
    session: AsyncSession, organizer_id: int, *, limit: int, after: EventKey | None
) -> Page[Event]:
    """Every event of one organizer, drafts and cancelled included."""
    return await fetch_page(
        session,
        Event,
        conditions=[col(Event.organizer_id) == organizer_id],
        after=_after(after),
        order_by=[col(Event.starts_at), col(Event.id)],
        limit=limit,
    )


async def load_events(session: AsyncSession, ids: list[int]) -> list[Event | None]:
    rows = await session.scalars(select(Event).where(col(Event.id).in_(ids)))
    by_id = {e.id: e for e in rows}
    return [by_id.get(i) for i in ids]


async def load_tiers_by_event(session: AsyncSession, event_ids: list[int]) -> list[list[TierRow]]:
    """Plain rows, not ORM objects: a listing reads ~100 tiers and only reads them
    (building the model instances cost more than the query)."""
    rows = await session.execute(
        select(*TIERS.columns)
        .where(TIERS.c.event_id.in_(event_ids))
        .order_by(TIERS.c.event_id, TIERS.c.position, TIERS.c.id)
    )
    grouped: dict[int, list[TierRow]] = {i: [] for i in event_ids}
    for tier in rows:
        grouped[tier.event_id].append(cast(TierRow, tier))  # a row reads like the model
    return [grouped[i] for i in event_ids]


async def load_tiers(session: AsyncSession, ids: list[int]) -> list[TicketType | None]:
    rows = await session.scalars(select(TicketType).where(col(TicketType.id).in_(ids)))
    by_id = {t.id: t for t in rows}
    return [by_id.get(i) for i in ids]
