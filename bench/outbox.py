"""What the outbox costs a booking, and how many webhooks two workers deliver per second.

On a fresh PostgreSQL database (EVENTHUB_TEST_POSTGRES_URL's server):

1. booking: `--bookings` one-seat offline bookings through `booking.reserve`
   (each its own transaction, `--clients` at once, every buyer distinct), once
   with the outbox hook and once with it replaced by a no-op; per booking
   median and p99 latency and bookings/s, alternating rounds.
2. delivery: `--messages` order.paid messages to one endpoint, delivered by two
   worker processes (each a `Deliverer` as `eventhub serve` runs it, on its own
   connections) to a local receiver answering 204 at once; deliveries/s from
   the first claim to the last DELIVERED.

    python bench/outbox.py                  # ~1 minute on 2 cores
    python bench/outbox.py --bookings 300 --messages 500
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventhub.models.database import create_engine, create_session_factory
from eventhub.models.migrate import upgrade_database
from eventhub.services import audit, booking, events, outbox, users, webhooks
from eventhub.services.payments import OfflineProvider

POLICY = booking.BookingPolicy(hold_seconds=600, max_per_tier=10, max_pending_orders=3)


class Fast(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        self.send_response(204)
        self.send_header("content-length", "0")
        self.end_headers()


async def arrange(url: str, buyers: int) -> tuple[int, list[audit.Actor], audit.Actor]:
    engine = create_engine(url, pool_size=2)
    sessions = create_session_factory(engine)
    async with sessions() as session:
        made = []
        for i in range(buyers + 1):
            email = f"b{i}-{uuid.uuid4().hex[:6]}@example.com"
            data = users.Registration(email, "x" * 12, "B", as_organizer=i == 0)
            roles = ("CUSTOMER", "ORGANIZER") if i == 0 else ("CUSTOMER",)
            user = await users.create_user(session, data, "not-a-hash", audit.SYSTEM)
            made.append(audit.Actor(user_id=user.id, roles=frozenset(roles)))
        organizer = made[0]
        starts = datetime.now(UTC) + timedelta(days=30)
        tiers = [events.NewTicketType("GA", Decimal("10.00"), 1_000_000)]
        event = await events.create_event(
            session, events.NewEvent("Bench", starts, 1_000_000, tiers), organizer
        )
        assert event.id is not None
        await events.publish_event(session, event.id, organizer)
    await engine.dispose()
    return event.id, made[1:], organizer


async def book_round(
    url: str,
    event_id: int,
    tier_id: int,
    buyers: list[audit.Actor],
    clients: int,
    with_outbox: bool,
) -> list[float]:
    real = outbox.after_booking

    async def nothing(*_: Any) -> None:
        return None

    outbox.after_booking = real if with_outbox else nothing  # type: ignore[assignment]
    engine = create_engine(url, pool_size=clients)
    sessions = create_session_factory(engine)
    gate = asyncio.Semaphore(clients)
    latencies: list[float] = []
    provider = OfflineProvider()

    async def one(buyer: audit.Actor) -> None:
        request = booking.ReservationRequest(event_id, [booking.LineRequest(tier_id, 1)])
        async with gate, sessions() as session:
            started = time.perf_counter()
            await booking.reserve(session, request, buyer, POLICY, provider, now=datetime.now(UTC))
            latencies.append(time.perf_counter() - started)

    try:
        await asyncio.gather(*(one(b) for b in buyers))
    finally:
        outbox.after_booking = real  # type: ignore[assignment]
        await engine.dispose()
    return latencies


def deliver_worker(url: str, expected: int) -> None:
    from eventhub.services.outbox_worker import Deliverer, WorkerPolicy
    from eventhub.services.webhook_channel import WebhookChannel
    from eventhub.services.webhook_sender import WebhookSender

    async def main() -> None:
        engine = create_engine(url, pool_size=4)
        sessions = create_session_factory(engine)
        sender = WebhookSender(allow_private=True, timeout=10)
        deliverer = Deliverer(sessions, [WebhookChannel(sender)], WorkerPolicy(0.05, 16, 10))
        task = asyncio.create_task(deliverer.run())
        conn = await asyncpg.connect(url.replace("+asyncpg", ""))
        done = "SELECT count(*) FROM outbox_deliveries WHERE status = 'DELIVERED'"
        while await conn.fetchval(done) < expected:  # noqa: ASYNC110 (other processes decide)
            await asyncio.sleep(0.05)
        await conn.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await engine.dispose()

    asyncio.run(main())


async def bench(url: str, args: argparse.Namespace) -> None:
    event_id, buyers, organizer = await arrange(url, args.bookings * args.rounds * 2)
    conn = await asyncpg.connect(url.replace("+asyncpg", ""))
    tier_id = await conn.fetchval("SELECT id FROM ticket_types WHERE event_id = $1", event_id)
    results: dict[bool, list[float]] = {True: [], False: []}
    walls: dict[bool, list[float]] = {True: [], False: []}
    chunks = [buyers[i :: args.rounds * 2] for i in range(args.rounds * 2)]
    for index, chunk in enumerate(chunks):
        with_outbox = index % 2 == 0
        started = time.perf_counter()
        results[with_outbox] += await book_round(
            url, event_id, tier_id, chunk, args.clients, with_outbox
        )
        walls[with_outbox].append(len(chunk) / (time.perf_counter() - started))
    for with_outbox, label in ((False, "without outbox"), (True, "with outbox")):
        lat = sorted(results[with_outbox])
        p99 = lat[int(len(lat) * 0.99) - 1]
        print(
            f"booking {label:15}: median {statistics.median(lat) * 1000:6.2f} ms, "
            f"p99 {p99 * 1000:6.2f} ms, {statistics.median(walls[with_outbox]):6.0f} bookings/s "
            f"({len(lat)} bookings, {args.clients} at once)"
        )

    server = ThreadingHTTPServer(("127.0.0.1", 0), Fast)
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True).start()
    await conn.execute("TRUNCATE webhook_attempts, outbox_deliveries, outbox_messages")
    engine = create_engine(url, pool_size=2)
    async with create_session_factory(engine)() as session:
        hook = f"http://127.0.0.1:{server.server_address[1]}/in"
        await webhooks.create_endpoint(
            session,
            webhooks.EndpointInput(url=hook, event_types=["order.paid"]),
            organizer,
            allow_private=True,
        )
        for _ in range(args.messages):
            await outbox.emit(session, "order.paid", event_id, {"order": {"id": "x"}})
        await session.commit()
    await engine.dispose()
    started = time.perf_counter()
    workers = [
        multiprocessing.get_context("spawn").Process(
            target=deliver_worker, args=(url, args.messages)
        )
        for _ in range(2)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    per_host = await conn.fetchval(
        "SELECT count(*) FROM outbox_deliveries WHERE status = 'DELIVERED' AND attempts = 1"
    )
    print(
        f"delivery: {args.messages} webhooks by 2 worker processes in {elapsed:.2f} s "
        f"= {args.messages / elapsed:.0f} deliveries/s (process start included); "
        f"{per_host} delivered at the first attempt"
    )
    await conn.close()
    server.shutdown()


async def with_database(args: argparse.Namespace) -> None:
    admin = os.environ.get(
        "EVENTHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    name = f"bench_outbox_{uuid.uuid4().hex[:8]}"
    conn = await asyncpg.connect(admin)
    await conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://") + "/" + name
    try:
        await asyncio.to_thread(upgrade_database, url)
        await bench(url, args)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bookings", type=int, default=400, help="per variant and round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    asyncio.run(with_database(args))


if __name__ == "__main__":
    main()
