"""Per-request DataLoaders: every nested field batches its lookups into one query."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from eventhub.auth.viewer import Viewer
from eventhub.models import Event, OrderItem, Ticket, TicketType, User
from eventhub.services import access, event_listings, order_lists, users


class Loaders:
    """One instance per request; each loader issues one query per batch of keys."""

    def __init__(self, session: AsyncSession, viewer: Callable[[], Awaitable[Viewer]]) -> None:
        self.user: DataLoader[int, User | None] = DataLoader(
            load_fn=lambda ids: users.load_users(session, list(ids))
        )
        self.event: DataLoader[int, Event | None] = DataLoader(
            load_fn=lambda ids: event_listings.load_events(session, list(ids))
        )
        self.tiers_by_event: DataLoader[int, list[event_listings.TierRow]] = DataLoader(
            load_fn=lambda ids: event_listings.load_tiers_by_event(session, list(ids))
        )
        self.tier: DataLoader[int, TicketType | None] = DataLoader(
            load_fn=lambda ids: event_listings.load_tiers(session, list(ids))
        )
        self.items_by_order: DataLoader[int, list[OrderItem]] = DataLoader(
            load_fn=lambda ids: order_lists.load_items(session, list(ids))
        )
        self.tickets_by_order: DataLoader[int, list[Ticket]] = DataLoader(
            load_fn=lambda ids: order_lists.load_tickets(session, list(ids))
        )
        # Per request, so per viewer: whose email this viewer may read (services/users.py).
        self.email_visible: DataLoader[int, bool] = DataLoader(
            load_fn=lambda ids: _email_visibility(session, viewer, ids)
        )


async def _email_visibility(
    session: AsyncSession, viewer: Callable[[], Awaitable[Viewer]], ids: Sequence[int]
) -> list[bool]:
    who = await viewer()
    return await users.email_visibility(session, who.user_id, access.is_admin(who), list(ids))
