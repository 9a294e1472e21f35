"""Read latency at volume: the same reads on the demo database and on 1 M orders.

Two PostgreSQL databases, each migrated and given the demo accounts (`eventhub
demo`) and an admin: the demo one as is, the volume one filled with
INSERT ... SELECT generate_series: `--events` events (5 tiers each), `--users`
users, `--orders` orders (one line item, 1-2 seats each; 90 % PAID, 5 %
REFUNDED, the rest EXPIRED/CANCELLED), a ticket per seat of every paid order and
an audit entry per order. The demo organizer owns every 100th event and the
demo's conference, which also gets `--big-event-orders` of the orders; the demo
customer buys 200. A quarter of the events are over (they stay in the table).

Then, against `eventhub serve --workers 1` on each database in turn, each read
runs `--samples` times sequentially (after 3 warm-ups) and its p50/p99 are printed
side by side. `--keep` keeps the databases, `--reuse NAME` measures an existing
volume database again (migrating it first), so a fix can be measured on the
same data.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from booking import admin_execute, bench_env, eventhub_server

from eventhub.cursors import encode_cursor
from eventhub.global_ids import encode_id

ADMIN = ("admin@volume.test", "volume-admin-password-2026")
ORGANIZER = ("organizer@demo.eventhub.dev", "demo-password-2026")
CUSTOMER = ("customer@demo.eventhub.dev", "demo-password-2026")

FILL = [
    # users: every 500th an organizer; birth years and countries for demographics
    """INSERT INTO users (email, name, password_hash, roles, is_active, birth_year, country,
                          created_at)
       SELECT 'u' || i || '@volume.test', 'User ' || i, 'x',
              CASE WHEN i % 500 = 0 THEN 'CUSTOMER,ORGANIZER' WHEN i % 997 = 0 THEN 'STAFF'
                   ELSE 'CUSTOMER' END,
              i % 50 <> 0, 1940 + i % 65, (ARRAY['US','DE','FR','GB','PT','ES','BR'])[1 + i % 7],
              now() - make_interval(days => i % 700)
       FROM generate_series(1, $1::int) i""",
    """CREATE TEMP TABLE org AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM users
       WHERE roles LIKE '%ORGANIZER%' AND email LIKE '%@volume.test'""",
    "ALTER TABLE org ADD PRIMARY KEY (n)",
    # events: a quarter over; the demo organizer owns every 100th
    """INSERT INTO events (organizer_id, name, description, venue, starts_at, ends_at, status,
                          capacity, sold, currency, created_at)
       SELECT CASE WHEN i % 100 = 0 THEN $2::int
                   ELSE (SELECT id FROM org WHERE n = 1 + i % (SELECT count(*) FROM org)) END,
              (ARRAY['Jazz','Rock','Python','Data','Chess','Film','Wine','Comedy'])[1 + i % 8]
                || ' ' || (ARRAY['Night','Summit','Festival','Meetup','Gala'])[1 + i % 5]
                || ' ' || i,
              'An evening of ' || md5(i::text) || ' and more ' || md5((i * 7)::text),
              (ARRAY['Lisbon','Berlin','Paris','London','Porto','Madrid'])[1 + i % 6]
                || ' Hall ' || (i % 97),
              now() + make_interval(hours => i - $1::int / 4),
              now() + make_interval(hours => i - $1::int / 4 + 3),
              'PUBLISHED', 500000, 0, CASE WHEN i % 10 = 0 THEN 'EUR' ELSE 'USD' END,
              now() - interval '400 days'
       FROM generate_series(1, $1::int) i""",
    """CREATE TEMP TABLE ev AS SELECT row_number() OVER (ORDER BY id) AS n, id, currency
       FROM events WHERE description LIKE 'An evening of %'""",
    "ALTER TABLE ev ADD PRIMARY KEY (n)",
    """INSERT INTO ticket_types (event_id, name, price_minor, seat_limit, sold, position)
       SELECT e.id, 'Tier ' || t, 1000 * t, 200000, 0, t
       FROM events e CROSS JOIN generate_series(1, 5) t
       WHERE e.description LIKE 'An evening of %' OR e.id = $1::int""",
    "UPDATE events SET capacity = 500000 WHERE id = $1::int",
    """CREATE TEMP TABLE cust AS SELECT row_number() OVER (ORDER BY id) AS n, id FROM users
       WHERE email LIKE '%@volume.test'""",
    "ALTER TABLE cust ADD PRIMARY KEY (n)",
    "ANALYZE org, ev, cust",
    # orders: the first $2 on the big event, the next 200 by the demo customer
    """INSERT INTO orders (event_id, buyer_id, status, currency, subtotal_minor, discount_minor,
                          total_minor, payment_provider, payment_status, created_at, paid_at,
                          closed_at, promo_code)
       SELECT CASE WHEN i <= $2::int THEN $3::int
                   ELSE (SELECT id FROM ev WHERE n = 1 + (i * 7919) % (SELECT count(*) FROM ev))
              END,
              CASE WHEN i > $2::int AND i <= $2::int + 200 THEN $4::int
                   ELSE (SELECT id FROM cust
                         WHERE n = 1 + (i * 104729) % (SELECT count(*) FROM cust))
              END,
              CASE WHEN i % 20 = 1 THEN 'REFUNDED' WHEN i % 50 = 2 THEN 'EXPIRED'
                   WHEN i % 50 = 3 THEN 'CANCELLED' ELSE 'PAID' END,
              'USD', 1000 * (1 + i % 5) * (1 + i % 2), 0, 1000 * (1 + i % 5) * (1 + i % 2),
              'offline', 'none', at, CASE WHEN i % 50 IN (2, 3) THEN NULL ELSE at END,
              CASE WHEN i % 20 = 1 THEN at + interval '1 day' END,
              CASE WHEN i % 13 = 0 THEN 'SPRING' END
       FROM (SELECT i, now() - make_interval(mins => ((i * 37) % 525600)::int) AS at
             FROM generate_series(1, $1::bigint) i) s""",
    """UPDATE orders o SET currency = e.currency FROM events e
       WHERE e.id = o.event_id AND e.currency <> 'USD'""",
    """INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price_minor,
                               unit_discount_minor)
       SELECT o.id, t.id, 1 + o.id % 2, o.total_minor / (1 + o.id % 2), 0
       FROM orders o JOIN ticket_types t
         ON t.event_id = o.event_id AND t.position = 1 + (o.id % 5) AND t.name LIKE 'Tier %'""",
    """INSERT INTO tickets (order_id, event_id, ticket_type_id, status, created_at,
                           checked_in_at)
       SELECT o.id, o.event_id, i.ticket_type_id,
              CASE WHEN o.status = 'REFUNDED' THEN 'VOID' WHEN o.id % 4 = 0 THEN 'USED'
                   ELSE 'VALID' END,
              o.created_at, CASE WHEN o.status = 'PAID' AND o.id % 4 = 0 THEN o.paid_at END
       FROM orders o JOIN order_items i ON i.order_id = o.id
       CROSS JOIN LATERAL generate_series(1, i.quantity) s
       WHERE o.status IN ('PAID', 'REFUNDED')""",
    """UPDATE ticket_types t SET sold = s.n FROM (
         SELECT i.ticket_type_id, sum(i.quantity) AS n FROM order_items i
         JOIN orders o ON o.id = i.order_id WHERE o.status = 'PAID' GROUP BY 1) s
       WHERE s.ticket_type_id = t.id""",
    """UPDATE events e SET sold = s.n FROM (
         SELECT event_id, sum(sold) AS n FROM ticket_types GROUP BY 1) s
       WHERE s.event_id = e.id""",
    """INSERT INTO audit_entries (at, actor_id, action, target_type, target_id)
       SELECT created_at, buyer_id, 'order.reserve', 'Order', id::text FROM orders""",
]

READS: dict[str, tuple[str, str]] = {
    # name: (who, document); $event, $cursor, $search are filled in per database
    "platformAnalytics": (
        "admin",
        "{ platformAnalytics { totals { events orders ticketsSold netRevenue { amount currency } }"
        " usersByRole { label count } topEvents { event { id name } ticketsSold } } }",
    ),
    "eventAnalytics (big event)": (
        "organizer",
        '{ eventAnalytics(eventId: "$event") { ticketsSold grossRevenue { amount } refunds'
        " { amount } netRevenue { amount } checkedIn capacityUtilization byTicketType { sold"
        " revenue { amount } } salesOverTime { start ticketsSold } ageBands { label count }"
        " countries { label count } promoCodeUses { label count } } }",
    ),
    "organizerAnalytics": (
        "organizer",
        "{ organizerAnalytics { events orders ticketsSold netRevenue { amount currency } } }",
    ),
    "events(search) + totalCount": (
        "anon",
        '{ events(first: 20, filter: {search: "$search"}) { totalCount edges { node { id } } } }',
    ),
    "events(search), no count": (
        "anon",
        '{ events(first: 20, filter: {search: "$search"}) { edges { node { id } } } }',
    ),
    "events deep cursor page": (
        "anon",
        '{ events(first: 20, after: "$cursor") { edges { node { id name } } pageInfo'
        " { hasNextPage } } }",
    ),
    "events first page + totalCount": (
        "anon",
        "{ events(first: 20) { totalCount edges { node { id name remaining } } } }",
    ),
    "auditLog(first: 20)": (
        "admin",
        "{ auditLog(first: 20) { edges { node { id action } } pageInfo { endCursor } } }",
    ),
    "myOrders (200 orders)": (
        "customer",
        "{ myOrders(first: 20) { totalCount edges { node { id status } } } }",
    ),
    "event(id)": ("anon", '{ event(id: "$event") { id name sold remaining } }'),
}


class Client:
    def __init__(self, url: str) -> None:
        self.http = httpx.AsyncClient(base_url=url, timeout=120)
        self.tokens: dict[str, str] = {}

    async def login(self, who: str, email: str, password: str) -> None:
        body = await self.post(
            f'mutation {{ login(email: "{email}", password: "{password}") {{ accessToken }} }}'
        )
        self.tokens[who] = body["data"]["login"]["accessToken"]

    async def post(self, query: str, who: str = "anon") -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {self.tokens[who]}"} if who in self.tokens else {}
        response = await self.http.post("/graphql", json={"query": query}, headers=headers)
        body: dict[str, Any] = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"{query[:60]}...: {response.status_code} {body}")
        return body


def cli(database_url: str, *args: str) -> None:
    env = bench_env(database_url)
    subprocess.run(
        [sys.executable, "-m", "eventhub.cli", *args],
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL if args[0] == "analytics" else None,
    )


def rebuild(url: str) -> None:
    """Recompute the maintained analytics (a no-op before they existed)."""
    try:
        cli(app_url(url), "analytics", "rebuild")
    except subprocess.CalledProcessError:
        print("  (no `eventhub analytics rebuild`: nothing maintained to rebuild)")


def app_url(libpq: str) -> str:
    return "postgresql+asyncpg://" + libpq.split("://", 1)[1]


async def prepare(admin_url: str, name: str) -> str:
    """A new database, migrated, with the demo data and the bench admin; its libpq URL."""
    await admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    url = admin_url.rsplit("/", 1)[0] + "/" + name
    cli(app_url(url), "db", "upgrade")
    cli(app_url(url), "demo")
    cli(app_url(url), "create-admin", "--email", ADMIN[0], "--password", ADMIN[1])
    return url


async def fill(url: str, args: argparse.Namespace) -> None:
    connection = await asyncpg.connect(url)
    try:
        organizer = await connection.fetchval("SELECT id FROM users WHERE email = $1", ORGANIZER[0])
        customer = await connection.fetchval("SELECT id FROM users WHERE email = $1", CUSTOMER[0])
        big = await connection.fetchval(
            "SELECT min(id) FROM events WHERE organizer_id = $1", organizer
        )
        # Triggers off while filling (the sales figures are recounted after, by
        # `eventhub analytics rebuild`): row by row they would triple the fill.
        await connection.execute("SET session_replication_role = replica")
        params: list[tuple[Any, ...]] = [
            (args.users,), (), (), (args.events, organizer), (), (), (big,), (big,), (), (), (),
            (args.orders, args.big_event_orders, big, customer), (), (), (), (), (), (),
        ]  # fmt: skip
        for sql, values in zip(FILL, params, strict=True):
            started = time.monotonic()
            status = await connection.execute(sql, *values)
            print(f"  {status:<28} {time.monotonic() - started:6.1f} s", flush=True)
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


async def variables(url: str) -> dict[str, str]:
    """The big event's id, a cursor deep in the listing, a search term that matches."""
    connection = await asyncpg.connect(url)
    try:
        organizer = await connection.fetchval("SELECT id FROM users WHERE email = $1", ORGANIZER[0])
        big = await connection.fetchval(
            "SELECT min(id) FROM events WHERE organizer_id = $1", organizer
        )
        listed = await connection.fetchval(
            "SELECT count(*) FROM events WHERE status = 'PUBLISHED'"
            " AND coalesce(ends_at, starts_at) >= now()"
        )
        deep = await connection.fetchrow(
            "SELECT starts_at, id FROM events WHERE status = 'PUBLISHED'"
            " AND coalesce(ends_at, starts_at) >= now() ORDER BY starts_at, id"
            " OFFSET $1 LIMIT 1",
            max(int(listed) * 2 // 3, 0),
        )
    finally:
        await connection.close()
    starts_at: datetime = deep["starts_at"].astimezone(UTC)
    return {
        "$event": encode_id("Event", big),
        "$cursor": encode_cursor("ev", starts_at.isoformat(), deep["id"]),
        "$search": "Lisbon",
    }


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(url: str, workdir: Path, samples: int) -> dict[str, tuple[float, float]]:
    values = await variables(url)
    results: dict[str, tuple[float, float]] = {}
    with eventhub_server(app_url(url), 1, workdir) as (base, _group):
        client = Client(base)
        await client.login("admin", *ADMIN)
        await client.login("organizer", *ORGANIZER)
        await client.login("customer", *CUSTOMER)
        for name, (who, document) in READS.items():
            for key, value in values.items():
                document = document.replace(key, value)
            for _ in range(3):
                await client.post(document, who)
            times = []
            for _ in range(samples):
                started = time.perf_counter()
                await client.post(document, who)
                times.append((time.perf_counter() - started) * 1000)
            results[name] = (percentile(times, 0.5), percentile(times, 0.99))
            print(f"  {name:<32} p50 {results[name][0]:8.1f}  p99 {results[name][1]:8.1f}",
                  flush=True)  # fmt: skip
        await client.http.aclose()
    return results


async def main(args: argparse.Namespace) -> int:
    admin_url = os.environ.get(
        "EVENTHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
    )
    run = uuid.uuid4().hex[:8]
    demo_name, volume_name = f"eventhub_volume_demo_{run}", args.reuse or f"eventhub_volume_{run}"
    created = [demo_name] if args.reuse else [demo_name, volume_name]
    try:
        started = time.monotonic()
        demo_url = await prepare(admin_url, demo_name)
        if args.reuse:
            volume_url = admin_url.rsplit("/", 1)[0] + "/" + volume_name
            cli(app_url(volume_url), "db", "upgrade")
            rebuild(volume_url)
        else:
            volume_url = await prepare(admin_url, volume_name)
            print(f"filling {volume_name}: {args.orders:,} orders", flush=True)
            await fill(volume_url, args)
            rebuild(volume_url)
            print(f"filled in {time.monotonic() - started:.0f} s", flush=True)
        with tempfile.TemporaryDirectory(prefix="eventhub-volume-") as workdir:
            print(f"demo database ({args.samples} samples per read, ms)")
            demo = await measure(demo_url, Path(workdir), args.samples)
            print(f"volume database ({volume_name})")
            volume = await measure(volume_url, Path(workdir), args.samples)
    finally:
        for name in created:
            if args.keep and name == volume_name:
                print(f"kept {name}")
                continue
            await admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(f"\n| read | demo p50 / p99 | {args.orders:,} orders p50 / p99 |\n|---|---|---|")
    for name, (p50, p99) in volume.items():
        d50, d99 = demo[name]
        print(f"| {name} | {d50:.0f} / {d99:.0f} | {p50:.0f} / {p99:.0f} |")
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--big-event-orders", type=int, default=50_000)
    parser.add_argument("--samples", type=int, default=100, help="timed runs of each read")
    parser.add_argument("--keep", action="store_true", help="keep the volume database")
    parser.add_argument("--reuse", metavar="NAME", help="measure this kept volume database")
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
