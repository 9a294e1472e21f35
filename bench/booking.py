"""Booking throughput through `eventhub serve`, against the minimal booking sent raw.

For each worker count, a real server on a fresh PostgreSQL database takes
`--bookings` one-seat `reserveTickets` mutations from `--clients` concurrent
HTTP clients (each its own customer), twice:

- hot: every booking on one tier of one event;
- spread: bookings spread over the 20 tiers of one event (the event row is
  still shared: every booking also updates `events.sold`).

The ceiling is the minimal correct booking sent straight through asyncpg with
the same concurrency: one statement, autocommit, that takes one seat on the
tier with a conditional UPDATE and inserts the order and its ticket (MINIMAL
below); the least work that does the job, not a replay of our design. The
replay of the app's own transaction (its statements in its order: read the
user's roles, the event and tier; insert order, item, ticket, audit entry; the
chained conditional UPDATEs with the live pg_notify; COMMIT) stays as a second
column. Both run right after their HTTP run. Capacities are large, so nothing
sells out; afterwards every tier and event is checked for `sold <= limit` and
for `sold` matching the bookings that answered PAID. See bench/README.md.

    python bench/booking.py                       # full run, ~4 minutes on 2 cores
    python bench/booking.py --bookings 500 --workers 1 --no-raw   # quick look
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

SPREAD_TIERS = 20
PRICE_MINOR = 1000
PASSWORD = "bench-password-123"
BOOK = """
mutation($input: ReserveTicketsInput!) {
  reserveTickets(input: $input) { order { id status } errors { code } }
}"""
REGISTER = """
mutation($input: RegisterInput!) {
  register(input: $input) { accessToken errors { code message } }
}"""
CREATE_EVENT = """
mutation($input: CreateEventInput!) {
  createEvent(input: $input) { event { id ticketTypes { id name } } errors { code message } }
}"""
PUBLISH = "mutation($id: ID!) { publishEvent(id: $id) { errors { code message } } }"


# --- results -----------------------------------------------------------------------------------


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass
class CpuMeter:
    """CPU seconds spent by the server's processes, the bench database's backends and us.

    Reads /proc (Linux); other processes on the machine are left out, so the
    CPU cost per booking stays comparable even when the machine is busy.
    """

    database: str
    server_group: int | None = None

    def snapshot(self) -> dict[str, dict[int, float]]:
        groups: dict[str, dict[int, float]] = {"app": {}, "db": {}}
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
                fields = stat[stat.rindex(")") + 2 :].split()
                seconds = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
                if self.server_group is not None and int(fields[2]) == self.server_group:
                    groups["app"][int(entry)] = seconds
                elif "(postgres)" in stat:
                    title = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
                    if f" {self.database} " in title:
                        groups["db"][int(entry)] = seconds
            except (OSError, ValueError, IndexError):
                continue  # the process ended while we looked
        return groups

    @staticmethod
    def spent(
        before: dict[str, dict[int, float]], after: dict[str, dict[int, float]]
    ) -> dict[str, float]:
        return {
            group: sum(cpu - before[group].get(pid, 0.0) for pid, cpu in after[group].items())
            for group in after
        }


ACTIVITY_SQL = """
SELECT CASE WHEN state = 'idle in transaction' THEN 'txn idle'
            WHEN state = 'active' AND wait_event_type = 'Lock' THEN 'lock wait'
            WHEN state = 'active' THEN 'active' ELSE 'idle' END AS what,
       count(*) AS n
FROM pg_stat_activity WHERE datname = $1 GROUP BY 1
"""


@asynccontextmanager
async def watch_backends(admin_url: str, database: str) -> AsyncIterator[Counter[str]]:
    """Samples what the bench database's backends are doing, every 20 ms.

    'txn idle': a transaction is open but the client has not sent its next
    statement (the app is busy elsewhere); 'lock wait': a statement waits for
    a row lock that another open transaction holds.
    """
    counts: Counter[str] = Counter()
    connection = await asyncpg.connect(admin_url)  # not the bench database: stays out of its CPU

    async def sample() -> None:
        while True:
            counts["samples"] += 1
            for row in await connection.fetch(ACTIVITY_SQL, database):
                counts[row["what"]] += row["n"]
            await asyncio.sleep(0.02)

    task = asyncio.create_task(sample())
    try:
        yield counts
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
        await connection.close()


@dataclass
class RunResult:
    name: str
    seconds: float
    latencies: list[float]
    outcomes: Counter[str]
    cpu: dict[str, float]  # seconds, by app / db / client
    backends: Counter[str]  # pg_stat_activity samples

    def backends_in(self, state: str) -> str:
        return f"{self.backends[state] / max(self.backends['samples'], 1):.1f}"

    @property
    def paid(self) -> int:
        """Bookings that answered PAID (or, for a stage probe, requests that answered OK)."""
        return self.outcomes["PAID"] + self.outcomes["OK"]

    @property
    def rate(self) -> float:
        return self.paid / self.seconds

    def percentile(self, p: int) -> float:
        cuts = statistics.quantiles(self.latencies, n=100, method="inclusive")
        return cuts[p - 1] * 1000

    def cpu_ms(self, group: str) -> str:
        spent = self.cpu.get(group, 0.0)
        return f"{1000 * spent / len(self.latencies):.2f}" if spent else "-"

    def row(self) -> str:
        others = {k: v for k, v in self.outcomes.items() if k not in ("PAID", "OK")}
        return (
            f"| {self.name:<25} | {self.paid:>6} | {self.rate:>9.1f} | {self.percentile(50):>6.1f}"
            f" | {self.percentile(99):>6.1f} | {self.cpu_ms('app'):>6} | {self.cpu_ms('db'):>6}"
            f" | {self.cpu_ms('client'):>6} | {self.backends_in('active'):>6}"
            f" | {self.backends_in('txn idle'):>8} | {self.backends_in('lock wait'):>9}"
            f" | {others or '-'} |"
        )


HEADER = (
    "| run                       |   paid | booking/s | p50 ms | p99 ms | app ms | db ms  | cli ms"
    " | active | txn idle | lock wait | other |\n"
    "|---------------------------|-------:|----------:|-------:|-------:|-------:|-------:|-------:"
    "|-------:|---------:|----------:|-------|"
)
CPU_NOTE = """\
app/db/cli ms: CPU milliseconds per booking spent by the server processes, the bench
  database's PostgreSQL backends and this client process.
active / txn idle / lock wait: average number of the bench database's backends running a
  statement / inside a transaction waiting for the client's next statement / waiting
  for a row lock (sampled from pg_stat_activity every 20 ms)."""


async def drive(
    name: str,
    clients: int,
    bookings: int,
    book: Callable[[int, int], Awaitable[str]],
    meter: CpuMeter,
    admin_url: str,
) -> RunResult:
    """`clients` loops share `bookings` calls of `book(client, n)`; each call is timed."""
    remaining = bookings
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def loop(client: int) -> None:
        nonlocal remaining
        while remaining > 0:
            remaining -= 1
            started = time.perf_counter()
            try:
                outcome = await book(client, remaining)
            except Exception as error:  # a benchmark counts failures instead of stopping
                outcome = f"{type(error).__name__}: {str(error)[:60]}"
            latencies.append(time.perf_counter() - started)
            outcomes[outcome] += 1

    async with watch_backends(admin_url, meter.database) as backends:
        before, client_cpu = meter.snapshot(), time.process_time()
        started = time.perf_counter()
        await asyncio.gather(*(loop(c) for c in range(clients)))
        seconds = time.perf_counter() - started
        cpu = CpuMeter.spent(before, meter.snapshot())
        cpu["client"] = time.process_time() - client_cpu
    return RunResult(name, seconds, latencies, outcomes, cpu, backends)


def pooled(runs: list[RunResult]) -> RunResult:
    """One row for several rounds of a run: the median rate, everything else pooled."""
    rate = statistics.median(run.rate for run in runs)
    paid = sum(run.paid for run in runs)
    return RunResult(
        runs[0].name,
        paid / rate,
        [latency for run in runs for latency in run.latencies],
        sum((run.outcomes for run in runs), Counter()),
        {k: sum(run.cpu.get(k, 0.0) for run in runs) for k in runs[0].cpu},
        sum((run.backends for run in runs), Counter()),
    )


# --- the server --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def bench_env(database_url: str) -> dict[str, str]:
    """The environment of an `eventhub` process on the bench database, cheap to log into."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHUB_")}
    env.update(
        EVENTHUB_DATABASE_URL=database_url,
        EVENTHUB_SECRET_KEY="bench-secret-key-0123456789-0123456789-0123456789",
        EVENTHUB_PASSWORD_HASH_TIME_COST="1",
        EVENTHUB_PASSWORD_HASH_MEMORY_KIB="1024",
        EVENTHUB_RATE_LIMIT="1000000/second",
        EVENTHUB_MAX_SOCKETS_PER_ADDRESS="100000",  # every subscriber is on 127.0.0.1
        EVENTHUB_LOG_LEVEL="WARNING",
    )
    return env


@contextmanager
def eventhub_server(
    database_url: str,
    workers: int,
    workdir: Path,
    profile: Path | None = None,
    settings: dict[str, str] | None = None,
) -> Iterator[tuple[str, int]]:
    """`eventhub serve --workers N` in its own process group; yields (base URL, group id).

    With `profile` (one worker only: uvicorn runs it in-process), the server runs under
    cProfile and writes its stats there when it stops.
    """
    port = free_port()
    env = bench_env(database_url)
    env.update({f"EVENTHUB_{name.upper()}": value for name, value in (settings or {}).items()})
    log_path = workdir / f"server-{workers}w.log"
    profiler = ["-m", "cProfile", "-o", str(profile)] if profile else []
    command = [sys.executable, *profiler, "-m", "eventhub.cli", "serve", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [*command, "--workers", str(workers)],
            cwd=workdir,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = f"http://127.0.0.1:{port}"
        _wait_ready(url, process, log_path)
        yield url, process.pid
    finally:
        with suppress(ProcessLookupError):
            # uvicorn re-raises the signal it stopped on; SIGINT then unwinds through
            # cProfile's `finally`, which writes the stats, where SIGTERM would not.
            os.killpg(process.pid, signal.SIGINT if profile else signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_ready(url: str, process: subprocess.Popen[bytes], log_path: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"the server exited:\n{log_path.read_text()}")
        with suppress(httpx.TransportError):
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        time.sleep(0.1)
    sys.exit(f"the server was not ready after 30 s:\n{log_path.read_text()}")


# --- arranging through the API -----------------------------------------------------------------


@dataclass
class Catalog:
    """An event and its tier ids (GraphQL ids), named so SQL can find it."""

    name: str
    event_id: str
    tier_ids: list[str]


class Api:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def call(self, query: str, variables: dict[str, Any], token: str | None = None) -> Any:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        response = await self.http.post(
            "/graphql", json={"query": query, "variables": variables}, headers=headers
        )
        body = response.json()
        if response.status_code != 200 or body.get("errors"):
            raise RuntimeError(f"{response.status_code}: {body}")
        (payload,) = body["data"].values()
        if payload.get("errors"):
            raise RuntimeError(str(payload["errors"]))
        return payload

    async def register(self, email: str, *, organizer: bool = False) -> str:
        data = {"email": email, "password": PASSWORD, "name": "Bench", "asOrganizer": organizer}
        token: str = (await self.call(REGISTER, {"input": data}))["accessToken"]
        return token

    async def create_event(self, organizer: str, name: str, tiers: int, seats: int) -> Catalog:
        starts = datetime.now(UTC) + timedelta(days=30)
        data = {
            "name": name,
            "startsAt": starts.isoformat(),
            "endsAt": (starts + timedelta(hours=3)).isoformat(),
            "capacity": seats,
            "currency": "USD",
            "ticketTypes": [
                {"name": f"Tier {n}", "price": f"{PRICE_MINOR / 100:.2f}", "limit": seats}
                for n in range(1, tiers + 1)
            ],
        }
        event = (await self.call(CREATE_EVENT, {"input": data}, organizer))["event"]
        await self.call(PUBLISH, {"id": event["id"]}, organizer)
        return Catalog(name, event["id"], [t["id"] for t in event["ticketTypes"]])


async def register_customers(api: Api, run: str, count: int) -> tuple[list[str], list[str]]:
    emails = [f"bench-{run}-{n}@example.com" for n in range(count)]
    gate = asyncio.Semaphore(8)

    async def one(email: str) -> str:
        async with gate:
            return await api.register(email)

    return emails, list(await asyncio.gather(*(one(e) for e in emails)))


def http_booker(
    api: Api, catalog: Catalog, tokens: list[str]
) -> Callable[[int, int], Awaitable[str]]:
    async def book(client: int, n: int) -> str:
        tier = catalog.tier_ids[n % len(catalog.tier_ids)]
        line = {"ticketTypeId": tier, "quantity": 1}
        variables = {"input": {"eventId": catalog.event_id, "items": [line]}}
        response = await api.http.post(
            "/graphql",
            json={"query": BOOK, "variables": variables},
            headers={"authorization": f"Bearer {tokens[client]}"},
        )
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        body = response.json()
        if body.get("errors"):
            return "top-level error: " + str(body["errors"][0].get("message"))[:40]
        payload = body["data"]["reserveTickets"]
        if payload["errors"]:
            return str(payload["errors"][0]["code"])
        return str(payload["order"]["status"])

    return book


def stage_probes(api: Api, token: str) -> dict[str, Callable[[int, int], Awaitable[str]]]:
    """Cheaper requests that each add one layer, to see where a booking's CPU goes."""

    async def checked(response: httpx.Response) -> str:
        ok = response.status_code == 200 and "errors" not in response.json()
        return "OK" if ok else f"HTTP {response.status_code} {response.text[:60]}"

    async def healthz(_client: int, _n: int) -> str:
        return await checked(await api.http.get("/healthz"))

    async def typename(_client: int, _n: int) -> str:
        return await checked(await api.http.post("/graphql", json={"query": "{ __typename }"}))

    async def me(_client: int, _n: int) -> str:
        headers = {"authorization": f"Bearer {token}"}
        body = {"query": "{ me { id } }"}
        return await checked(await api.http.post("/graphql", json=body, headers=headers))

    async def reserve_nothing(_client: int, _n: int) -> str:
        """The booking mutation, signed in, for an event id that does not decode: no booking."""
        headers = {"authorization": f"Bearer {token}"}
        line = {"ticketTypeId": "none", "quantity": 1}
        variables = {"input": {"eventId": "none", "items": [line]}}
        body = {"query": BOOK, "variables": variables}
        return await checked(await api.http.post("/graphql", json=body, headers=headers))

    return {
        "stage GET /healthz": healthz,
        "stage { __typename }": typename,
        "stage { me { id } }": me,
        "stage reserve, no event": reserve_nothing,
    }


# --- the same transaction, raw -----------------------------------------------------------------

SELECT_USER = "SELECT users.roles, users.is_active FROM users WHERE users.id = $1::INTEGER"
SELECT_EVENT = (
    "SELECT events.id, events.organizer_id, events.name, events.description, events.venue, "
    "events.starts_at, events.ends_at, events.status, events.capacity, events.sold, "
    "events.currency, events.image_path, events.created_at "
    "FROM events WHERE events.id = $1::INTEGER"
)
SELECT_TIERS = (
    "SELECT ticket_types.id, ticket_types.event_id, ticket_types.name, ticket_types.price_minor, "
    "ticket_types.seat_limit, ticket_types.sold, ticket_types.sales_start_at, "
    "ticket_types.sales_end_at, ticket_types.position FROM ticket_types "
    "WHERE ticket_types.id IN ($2::INTEGER) AND ticket_types.event_id = $1::INTEGER"
)
INSERT_ORDER = (
    "INSERT INTO orders (event_id, buyer_id, status, promo_code_id, promo_code, currency, "
    "subtotal_minor, discount_minor, total_minor, expires_at, idempotency_key, payment_provider, "
    "payment_intent_id, payment_client_secret, payment_status, refund_id, created_at, paid_at, "
    "closed_at) VALUES ($1::INTEGER, $2::INTEGER, $3::VARCHAR, $4::INTEGER, $5::VARCHAR, "
    "$6::VARCHAR, $7::INTEGER, $8::INTEGER, $9::INTEGER, $10::TIMESTAMP WITH TIME ZONE, "
    "$11::VARCHAR, $12::VARCHAR, $13::VARCHAR, $14::VARCHAR, $15::VARCHAR, $16::VARCHAR, "
    "$17::TIMESTAMP WITH TIME ZONE, $18::TIMESTAMP WITH TIME ZONE, "
    "$19::TIMESTAMP WITH TIME ZONE) RETURNING orders.id"
)
INSERT_AUDIT = (
    "INSERT INTO audit_entries (at, actor_id, action, target_type, target_id, ip, details) "
    "VALUES ($1::TIMESTAMP WITH TIME ZONE, $2::INTEGER, $3::VARCHAR, $4::VARCHAR, $5::VARCHAR, "
    "$6::VARCHAR, $7::VARCHAR)"
)
INSERT_ITEM = (
    "INSERT INTO order_items (order_id, ticket_type_id, quantity, unit_price_minor, "
    "unit_discount_minor) VALUES ($1::INTEGER, $2::INTEGER, $3::INTEGER, $4::INTEGER, "
    "$5::INTEGER)"
)
INSERT_TICKET = (
    "INSERT INTO tickets (order_id, event_id, ticket_type_id, status, checked_in_at, "
    "checked_in_by_id, created_at) VALUES ($1::INTEGER, $2::INTEGER, $3::INTEGER, $4::VARCHAR, "
    "$5::TIMESTAMP WITH TIME ZONE, $6::INTEGER, $7::TIMESTAMP WITH TIME ZONE)"
)
# inventory.take_seats on PostgreSQL: tier, then event, then the live notification, one statement.
TAKE_SEATS = (
    "WITH t0 AS (UPDATE ticket_types SET sold = sold + $1 WHERE id = $2 "
    "AND sold + $1 <= seat_limit RETURNING 1), "
    "e AS (UPDATE events SET sold = sold + $3 WHERE id = $4 AND sold + $3 <= capacity "
    "AND EXISTS (SELECT 1 FROM t0) RETURNING 1) "
    "SELECT EXISTS (SELECT 1 FROM t0), EXISTS (SELECT 1 FROM e), TRUE, "
    "pg_notify($5, $6) IS NULL"
)


# The minimal correct booking, the ceiling: one statement, autocommit. It takes one seat on
# the tier with a conditional UPDATE (never past its limit) and inserts the order (PAID) and
# its ticket, each only if the seat was taken. Nothing else: no event-wide cap, no
# per-buyer caps, no order item, no audit entry, no live NOTIFY, no reads.
MINIMAL = (
    "WITH t AS (UPDATE ticket_types SET sold = sold + 1 WHERE id = $1 AND sold < seat_limit "
    "RETURNING event_id, price_minor), "
    "o AS (INSERT INTO orders (event_id, buyer_id, status, currency, subtotal_minor, "
    "discount_minor, total_minor, payment_provider, payment_status, created_at, paid_at) "
    "SELECT event_id, $2, 'PAID', 'USD', price_minor, 0, price_minor, 'offline', 'succeeded', "
    "now(), now() FROM t RETURNING id, event_id), "
    "k AS (INSERT INTO tickets (order_id, event_id, ticket_type_id, status, created_at) "
    "SELECT id, event_id, $1, 'VALID', now() FROM o RETURNING 1) "
    "SELECT count(*) FROM k"
)


def minimal_booker(
    pool: asyncpg.Pool, tier_ids: list[int], user_ids: list[int]
) -> Callable[[int, int], Awaitable[str]]:
    """The least work that books a seat correctly: one round trip, one implicit transaction."""

    async def book(client: int, n: int) -> str:
        taken = await pool.fetchval(MINIMAL, tier_ids[n % len(tier_ids)], user_ids[client])
        return "PAID" if taken == 1 else "SOLD_OUT"

    return book


class SoldOutError(Exception):
    pass


def raw_booker(
    pool: asyncpg.Pool, event_id: int, tier_ids: list[int], user_ids: list[int], *, reads: bool
) -> Callable[[int, int], Awaitable[str]]:
    """The app's booking transaction, statement for statement, with no app around it."""

    async def book(client: int, n: int) -> str:
        user, tier = user_ids[client], tier_ids[n % len(tier_ids)]
        now = datetime.now(UTC)
        async with pool.acquire() as connection:
            try:
                async with connection.transaction():
                    if reads:
                        await connection.fetchrow(SELECT_USER, user)
                        await connection.fetchrow(SELECT_EVENT, event_id)
                        await connection.fetch(SELECT_TIERS, event_id, tier)
                    order_id = await connection.fetchval(
                        INSERT_ORDER,
                        event_id, user, "PAID", None, None, "USD", PRICE_MINOR, 0, PRICE_MINOR,
                        None, None, "offline", None, None, "succeeded", None, now, now, None,
                    )  # fmt: skip
                    details = {"event_id": event_id, "promo": None, "seats": 1}
                    details["total_minor"] = PRICE_MINOR
                    await connection.execute(INSERT_ITEM, order_id, tier, 1, PRICE_MINOR, 0)
                    await connection.execute(
                        INSERT_TICKET, order_id, event_id, tier, "VALID", None, None, now
                    )
                    await connection.execute(
                        INSERT_AUDIT, now, user, "order.reserve", "Order", str(order_id),
                        "127.0.0.1", json.dumps(details, sort_keys=True),
                    )  # fmt: skip
                    taken = await connection.fetchrow(
                        TAKE_SEATS, 1, tier, 1, event_id, "eventhub_changes", str(event_id)
                    )
                    if not (taken[0] and taken[1]):
                        raise SoldOutError
            except SoldOutError:
                return "SOLD_OUT"
        return "PAID"

    return book


async def catalog_pks(connection: asyncpg.Pool, catalog: Catalog) -> tuple[int, list[int]]:
    event_id = await connection.fetchval("SELECT id FROM events WHERE name = $1", catalog.name)
    tiers = await connection.fetch(
        "SELECT id FROM ticket_types WHERE event_id = $1 ORDER BY id", event_id
    )
    return int(event_id), [int(t["id"]) for t in tiers]


# --- checks ------------------------------------------------------------------------------------

OVERSOLD_SQL = """
SELECT
  (SELECT COALESCE(SUM(sold - seat_limit), 0) FROM ticket_types WHERE sold > seat_limit)
  + (SELECT COALESCE(SUM(sold - capacity), 0) FROM events WHERE sold > capacity)
"""
PAID_SEATS_SQL = """
SELECT e.name, e.sold,
  (SELECT COALESCE(SUM(t.sold), 0) FROM ticket_types t WHERE t.event_id = e.id) AS tier_sold,
  (SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id
    WHERE o.event_id = e.id AND o.status = 'PAID') AS paid_seats,
  (SELECT COUNT(*) FROM tickets k WHERE k.event_id = e.id) AS tickets
FROM events e ORDER BY e.id
"""


# --- the run -----------------------------------------------------------------------------------


@dataclass
class Bench:
    args: argparse.Namespace
    admin_url: str
    database: str = field(default_factory=lambda: f"eventhub_bench_{uuid.uuid4().hex[:8]}")
    results: dict[str, list[RunResult]] = field(default_factory=dict)
    expected_paid: Counter[str] = field(default_factory=Counter)

    def __post_init__(self) -> None:
        self.meter = CpuMeter(self.database)

    @property
    def libpq_url(self) -> str:
        return f"{self.admin_url.rsplit('/', 1)[0]}/{self.database}"

    @property
    def app_url(self) -> str:
        return "postgresql+asyncpg://" + self.libpq_url.split("://", 1)[1]

    @property
    def seats(self) -> int:
        """Enough that nothing sells out: a round's bookings and warm-up fit twice over."""
        return 2 * int(self.args.bookings + self.args.warmup) + 1000

    def record(self, result: RunResult, catalog: Catalog | None, warmup: RunResult) -> None:
        self.results.setdefault(result.name, []).append(result)
        print(result.row(), flush=True)
        if catalog is not None:
            self.expected_paid[catalog.name] += result.paid + warmup.paid

    async def measure(
        self, name: str, catalog: Catalog | None, book: Callable[[int, int], Awaitable[str]]
    ) -> None:
        clients, warmup = self.args.clients, self.args.warmup
        warm = await drive(f"{name} warm-up", clients, warmup, book, self.meter, self.admin_url)
        result = await drive(name, clients, self.args.bookings, book, self.meter, self.admin_url)
        self.record(result, catalog, warm)

    async def server_runs(self, workers: int, workdir: Path) -> None:
        """For hot, then spread, `--repeat` rounds of: the HTTP run, then the raw runs
        (minimal, replay).

        Each raw run is measured right after its HTTP run (the server idle but up),
        so that both see the same machine: on a shared machine the load drifts, and
        the ratio is taken per round, then the median over the rounds.
        """
        limits = httpx.Limits(max_connections=self.args.clients + 4)
        profile = self.args.cprofile if workers == 1 else None
        settings = dict(setting.split("=", 1) for setting in self.args.server_setting)
        with eventhub_server(self.app_url, workers, workdir, profile, settings) as (url, group):
            self.meter.server_group = group
            async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
                api = Api(http)
                organizer = await api.register(f"organizer-{workers}@example.com", organizer=True)
                emails, tokens = await register_customers(api, f"w{workers}", self.args.clients)
                for kind, tiers in (("hot", 1), ("spread", SPREAD_TIERS)):
                    names = [f"HTTP {workers}w {kind}", f"minimal {workers}w {kind}"]
                    names.append(f"replay {workers}w {kind}")
                    for round_ in range(1, self.args.repeat + 1):
                        # Fresh rows each round: a row updated thousands of times slows down.
                        catalogs = [
                            await api.create_event(
                                organizer, f"{name} #{round_}", tiers, self.seats
                            )
                            for name in names
                        ]
                        book = http_booker(api, catalogs[0], tokens)
                        await self.measure(names[0], catalogs[0], book)
                        if not self.args.no_raw:
                            await self.raw_runs(names[1:], catalogs[1:], emails)
                if self.args.stages and workers == 1:
                    for name, probe in stage_probes(api, tokens[0]).items():
                        await self.measure(name, None, probe)
        self.meter.server_group = None

    async def raw_runs(self, names: list[str], catalogs: list[Catalog], emails: list[str]) -> None:
        """The minimal booking (the ceiling), then the replay of the app's transaction."""
        clients = self.args.clients
        async with asyncpg.create_pool(self.libpq_url, min_size=clients, max_size=clients) as pool:
            users = await pool.fetch("SELECT id FROM users WHERE email = ANY($1)", emails)
            user_ids = [int(u["id"]) for u in users]
            for name, catalog in zip(names, catalogs, strict=True):
                event_id, tier_ids = await catalog_pks(pool, catalog)
                if name.startswith("minimal"):
                    book = minimal_booker(pool, tier_ids, user_ids)
                else:
                    book = raw_booker(pool, event_id, tier_ids, user_ids, reads=True)
                await self.measure(name, catalog, book)

    async def check(self) -> tuple[int, list[str]]:
        connection = await asyncpg.connect(self.libpq_url)
        try:
            oversold = int(await connection.fetchval(OVERSOLD_SQL))
            problems = []
            for row in await connection.fetch(PAID_SEATS_SQL):
                answered = self.expected_paid.get(row["name"], row["sold"])
                counts = (row["sold"], row["tier_sold"], row["paid_seats"], row["tickets"])
                if row["name"].startswith("minimal"):  # tiers and tickets only, by design
                    counts = (row["tier_sold"], row["tickets"])
                if set(counts) != {answered}:
                    problems.append(
                        f"{row['name']}: sold, tier sold, PAID seats, tickets = {counts}; "
                        f"answered PAID: {answered}"
                    )
        finally:
            await connection.close()
        return oversold, problems

    async def run(self) -> int:
        await admin_execute(self.admin_url, f'CREATE DATABASE "{self.database}"')
        try:
            # `eventhub serve` migrates the new database before it answers.
            args = self.args
            print(f"database {self.database}; {args.clients} clients; "
                  f"{args.bookings} bookings per run (+{args.warmup} warm-up)\n")  # fmt: skip
            print(HEADER)
            with tempfile.TemporaryDirectory(prefix="eventhub-bench-") as workdir:
                for workers in self.args.workers:
                    await self.server_runs(workers, Path(workdir))
            oversold, problems = await self.check()
        finally:
            await admin_execute(
                self.admin_url, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'
            )
        self.summary(oversold, problems)
        if self.args.cprofile and self.args.cprofile.exists():
            print_profile(self.args.cprofile)
        return 0 if oversold == 0 and not problems else 1

    def summary(self, oversold: int, problems: list[str]) -> None:
        rounds = self.args.repeat
        print(f"\nover {rounds} round(s): median rate; latency and CPU of all rounds pooled")
        print(HEADER)
        for runs in self.results.values():
            print(pooled(runs).row())
        print()
        for kind in ("hot", "spread"):
            for workers in self.args.workers:
                http = self.results.get(f"HTTP {workers}w {kind}", [])
                minimal = self.results.get(f"minimal {workers}w {kind}", [])
                replay = self.results.get(f"replay {workers}w {kind}", [])
                if not (http and minimal and replay):
                    continue
                ratios = [h.rate / m.rate for h, m in zip(http, minimal, strict=True)]
                replay_ratio = statistics.median(
                    h.rate / r.rate for h, r in zip(http, replay, strict=True)
                )
                each = ", ".join(f"{r:.0%}" for r in ratios)
                print(
                    f"{kind:<6} {workers}w: HTTP / minimal = {statistics.median(ratios):6.1%} "
                    f"(rounds: {each}); HTTP / replay of our transaction = {replay_ratio:.1%}"
                )
        print(f"\noversold seats: {oversold}")
        print("sold == tier sold == PAID seats == tickets == PAID answers: "
              + ("yes" if not problems else "NO\n  " + "\n  ".join(problems)))  # fmt: skip
        print(CPU_NOTE)
        print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


def print_profile(path: Path) -> None:
    import pstats

    print(f"\n--- cProfile of the 1-worker server ({path}) ---")
    stats = pstats.Stats(str(path))
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(r"eventhub|strawberry|graphql|sqlalchemy", 40)


async def admin_execute(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="EventHub booking throughput: HTTP through `eventhub serve` vs the "
        "minimal booking sent raw through asyncpg."
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "EVENTHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="maintenance database to create the bench database from "
        "(default: $EVENTHUB_TEST_POSTGRES_URL or postgresql://postgres@127.0.0.1:5432/postgres)",
    )
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument(
        "--bookings", type=int, default=1000, help="measured bookings per run (default 1000)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds of HTTP, minimal, replay (default 3)"
    )
    parser.add_argument(
        "--warmup", type=int, default=200, help="unmeasured bookings before each run (default 200)"
    )
    parser.add_argument(
        "--workers", type=int, nargs="+", default=[1, 2], help="server worker counts (default 1 2)"
    )
    parser.add_argument(
        "--server-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an EVENTHUB_* setting for the server, e.g. db_pool_size=4 (repeatable)",
    )
    parser.add_argument("--no-raw", action="store_true", help="skip the raw runs (minimal, replay)")
    parser.add_argument(
        "--stages",
        action="store_true",
        help="on the 1-worker server, also time GET /healthz, { __typename } and "
        "{ me { id } }: the CPU each layer adds under a booking",
    )
    parser.add_argument(
        "--cprofile",
        type=Path,
        metavar="FILE",
        help="run the 1-worker server under cProfile, write its stats to FILE and print the top "
        "functions (the profiler slows the server: read the shares, not the rates)",
    )
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    try:
        import uvloop
    except ImportError:
        return asyncio.run(Bench(args, args.postgres_url).run())
    return uvloop.run(Bench(args, args.postgres_url).run())


if __name__ == "__main__":
    sys.exit(main())
