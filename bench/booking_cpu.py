"""CPU per booking of the booking service alone: viewer lookup + `booking.reserve`, in-process.

No HTTP, no GraphQL, no concurrency: sequential bookings on a fresh PostgreSQL
database, timed with `time.process_time()` (this process's CPU, so other load
on the machine moves it far less than wall time). It isolates what the service
layer costs per booking, the part `bench/booking.py` cannot separate from
uvicorn and Strawberry.

    python bench/booking_cpu.py [--bookings 1000] [--postgres-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import time
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventhub.auth.access_tokens import AccessTokenCodec
from eventhub.auth.viewer import resolve_viewer
from eventhub.models.database import create_engine, create_session_factory
from eventhub.models.migrate import upgrade_database
from eventhub.services import audit, booking
from eventhub.services.payments import OfflineProvider

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
WARMUP = 200
SEED = [
    "INSERT INTO users (email, name, password_hash, roles, is_active, created_at) "
    "VALUES ('bench@example.com', 'bench', 'x', 'CUSTOMER', true, now())",
    "INSERT INTO events (organizer_id, name, starts_at, status, capacity, sold, currency, "
    "created_at) VALUES (1, 'bench', :starts, 'PUBLISHED', 10000000, 0, 'USD', now())",
    "INSERT INTO ticket_types (event_id, name, price_minor, seat_limit, sold, position) "
    "VALUES (1, 'GA', 1000, 10000000, 0, 0)",
]


async def book_many(factory: async_sessionmaker[AsyncSession], count: int) -> float:
    """CPU milliseconds per booking over `count` sequential bookings."""
    codec = AccessTokenCodec("bench-secret-" * 4, 900)
    token, _ = codec.issue(1, frozenset({"CUSTOMER"}))
    policy = booking.BookingPolicy(hold_seconds=600, max_per_tier=10)
    request = booking.ReservationRequest(event_id=1, lines=[booking.LineRequest(1, 1)])
    provider = OfflineProvider()
    started = time.process_time()
    for _ in range(count):
        async with factory() as session:
            viewer = await resolve_viewer(session, codec, token)
            actor = audit.Actor(viewer.user_id, "127.0.0.1", viewer.roles)
            await booking.reserve(session, request, actor, policy, provider, now=datetime.now(UTC))
    return (time.process_time() - started) / count * 1000


async def run(maintenance_url: str, bookings: int) -> None:
    name = f"eventhub_bench_cpu_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(maintenance_url)
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = "postgresql+asyncpg://" + maintenance_url.split("://", 1)[1].rsplit("/", 1)[0]
    url += f"/{name}"
    try:
        await asyncio.to_thread(upgrade_database, url)
        engine = create_engine(url, pool_size=2)
        async with engine.begin() as connection:
            for statement in SEED:
                starts = datetime.now(UTC) + timedelta(days=30)
                await connection.execute(text(statement), {"starts": starts})
        factory = create_session_factory(engine)
        await book_many(factory, WARMUP)
        per_booking = await book_many(factory, bookings)
        print(f"{bookings} sequential bookings: {per_booking:.2f} ms CPU per booking")
        await engine.dispose()
    finally:
        await admin.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
        await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=1000)
    parser.add_argument(
        "--postgres-url", default=os.environ.get("EVENTHUB_TEST_POSTGRES_URL", DEFAULT_PG)
    )
    args = parser.parse_args()
    asyncio.run(run(args.postgres_url, args.bookings))


if __name__ == "__main__":
    main()
