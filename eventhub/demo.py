"""Demo data for `eventhub demo`: accounts for each role and two published events.

Running it twice is harmless: existing accounts and events are left alone.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.auth.passwords import PasswordHasher
from eventhub.models import Event, User
from eventhub.services import audit, events, users
from eventhub.services.promos import NewPromoCode

DEMO_PASSWORD = "demo-password-2026"
ACCOUNTS = {
    "organizer": ("organizer@demo.eventhub.dev", "Olivia Organizer", True),
    "customer": ("customer@demo.eventhub.dev", "Carlos Customer", False),
    "staff": ("staff@demo.eventhub.dev", "Sam Staff", False),
}


async def _account(session: AsyncSession, hasher: PasswordHasher, key: str) -> User:
    email, name, organizer = ACCOUNTS[key]
    existing = await users.find_by_email(session, email)
    if existing is not None:
        return existing
    data = users.Registration(email, DEMO_PASSWORD, name, organizer, 1990, "US")
    return await users.create_user(session, data, await hasher.hash(DEMO_PASSWORD), audit.SYSTEM)


def _conference(starts_at: datetime) -> events.NewEvent:
    return events.NewEvent(
        name="PyCon Demo 2027",
        description="Three days of talks, sprints and hallway track.",
        venue="Lisbon Congress Centre",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(days=3),
        capacity=500,
        currency="USD",
        ticket_types=[
            events.NewTicketType("Early Bird", Decimal("299.00"), 100),
            events.NewTicketType("Regular", Decimal("399.00"), 300),
            events.NewTicketType("VIP", Decimal("599.00"), 50),
        ],
        promo_codes=[
            NewPromoCode(
                "EARLY25",
                "PERCENT",
                Decimal(25),
                max_uses=100,
                ticket_type_names=["Early Bird", "Regular"],
            ),
            NewPromoCode("GROUP10", "PERCENT", Decimal(10)),
        ],
    )


def _concert(starts_at: datetime) -> events.NewEvent:
    return events.NewEvent(
        name="Night Jazz on the River",
        description="An evening concert on the open-air stage.",
        venue="Riverside Stage",
        starts_at=starts_at,
        ends_at=starts_at + timedelta(hours=4),
        capacity=120,
        currency="EUR",
        ticket_types=[
            events.NewTicketType("Standing", Decimal("35.00"), 100),
            events.NewTicketType("Seated", Decimal("55.00"), 20),
            events.NewTicketType("Guest list", Decimal(0), 10),
        ],
        promo_codes=[
            NewPromoCode(
                "JAZZ5",
                "FIXED",
                Decimal("5.00"),
                max_uses=50,
                ticket_type_names=["Standing", "Seated"],
            )
        ],
    )


async def load_demo_data(
    session: AsyncSession, hasher: PasswordHasher
) -> dict[str, tuple[str, str]]:
    organizer = await _account(session, hasher, "organizer")
    staff = await _account(session, hasher, "staff")
    await _account(session, hasher, "customer")
    actor = audit.Actor(organizer.id, None, organizer.role_set)
    soon = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=30)
    for make in (_conference, _concert):
        data = make(soon)
        taken = await session.scalar(
            select(col(Event.id)).where(
                col(Event.organizer_id) == organizer.id, col(Event.name) == data.name
            )
        )
        if taken is None:
            event = await events.create_event(session, data, actor)
            assert event.id is not None
            await events.publish_event(session, event.id, actor)
            await events.assign_staff(session, event.id, staff.email, actor)
        soon += timedelta(days=14)
    return {key: (email, DEMO_PASSWORD) for key, (email, _, _) in ACCOUNTS.items()}
