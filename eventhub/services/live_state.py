"""The numbers live subscribers see, read in one short session per coalesced change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventhub.models import Event, TicketType
from eventhub.services import analytics, events


@dataclass(frozen=True)
class LiveState:
    event: Event
    tiers: list[TicketType]
    totals: analytics.Totals
    at: datetime

    @property
    def key(self) -> tuple[object, ...]:
        """What subscribers see; equal keys mean nothing changed."""
        return (self.event.sold, tuple((t.id, t.sold) for t in self.tiers), self.totals)

    @property
    def remaining(self) -> int:
        tier_room = sum(max(t.seat_limit - t.sold, 0) for t in self.tiers)
        return max(min(self.event.capacity - self.event.sold, tier_room), 0)


def live_state_loader(
    session_factory: async_sessionmaker[AsyncSession],
) -> Callable[[int], Awaitable[LiveState | None]]:
    async def load(event_id: int) -> LiveState | None:
        async with session_factory() as session:
            event = await session.get(Event, event_id)
            if event is None:
                return None
            tiers = await events.list_ticket_types(session, event_id)
            totals = await analytics.totals(session, event_id)
        return LiveState(event, tiers, totals, datetime.now(UTC))

    return load
