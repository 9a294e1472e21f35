"""The numbers live subscribers see, read in one short session per coalesced change."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventhub.models import Event, TicketType
from eventhub.services import analytics, events


@dataclass(frozen=True)
class LiveState:
    """One read of an event's numbers, handed to every subscriber of the event.

    `shared` lets the API layer build its payload once per state instead of once
    per subscriber (with a thousand subscribers that is most of the work).
    """

    event: Event
    tiers: list[TicketType]
    totals: analytics.Totals
    at: datetime
    shared: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def key(self) -> tuple[object, ...]:
        """What subscribers see; equal keys mean nothing changed."""
        event, tiers = self.event, self.tiers
        shown = tuple(
            (t.id, t.name, t.price_minor, t.seat_limit, t.sold, t.sales_start_at, t.sales_end_at)
            for t in tiers
        )
        return (event.capacity, event.sold, event.status, shown, self.totals)

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
