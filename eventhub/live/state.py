"""The state live subscribers see, read in one short session per coalesced change.

A state also carries its `Memo`: what is computed from it once and reused by
every subscriber of it (with a thousand subscribers that is most of the work).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventhub.models import Event, TicketType
from eventhub.services import analytics, events, inventory

T = TypeVar("T")
# (id of the parsed operation, its variables): what a payload's encoded text depends on.
OperationKey = tuple[int, str]


class Memo:
    """Payloads built once per state (one per payload type), and the text each operation
    encoded for its payload (see texts.py). Entries are only ever added."""

    __slots__ = ("_payloads", "texts")

    def __init__(self) -> None:
        self._payloads: dict[type, object] = {}
        # The operation node is kept beside its text and compared by identity, so a
        # recycled id (a document evicted from the parser cache) never picks up another's.
        self.texts: dict[OperationKey, tuple[object, str]] = {}

    def payload(self, kind: type[T], build: Callable[[], T]) -> T:
        """The state's payload of this type, built by the first subscriber to ask."""
        payload = self._payloads.get(kind)
        if payload is None:
            payload = self._payloads[kind] = build()
        return cast(T, payload)

    def text(self, operation: object, key: OperationKey) -> str | None:
        known = self.texts.get(key)
        return known[1] if known is not None and known[0] is operation else None


@dataclass(frozen=True)
class State:
    """One read of an event's numbers, handed to every subscriber of the event."""

    event: Event
    tiers: list[TicketType]
    totals: analytics.Totals
    at: datetime
    memo: Memo = field(default_factory=Memo, compare=False, repr=False)

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
        return inventory.event_remaining(self.event.capacity, self.event.sold, self.tiers)


def state_loader(
    session_factory: async_sessionmaker[AsyncSession],
) -> Callable[[int], Awaitable[State | None]]:
    async def load(event_id: int) -> State | None:
        async with session_factory() as session:
            event = await session.get(Event, event_id)
            if event is None:
                return None
            tiers = await events.list_ticket_types(session, event_id)
            totals = await analytics.totals(session, event_id)
        return State(event, tiers, totals, datetime.now(UTC))

    return load
