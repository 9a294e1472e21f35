"""Ticket validation at the door: validations per second and latency over HTTP.

A real `eventhub serve --workers N` on a fresh PostgreSQL database; door staff
(several accounts, round robin) send `validateTicket` for distinct, genuine
tickets, so every answer should be VALID and every request does the whole
job: sign-in check, door access, signature, the conditional UPDATE, the
audit entry, COMMIT. The query is what a scanner needs to show:

    validateTicket(eventId, token) { outcome firstCheckedInAt ticket { id status checkedInAt } }

Runs, in order:

- signature check alone: µs per `TicketSigner.verify` in this process (and
  sign, a failing verify, and the bare Ed25519 verify for reference);
- fixed rate (open loop): requests start on a fixed schedule, `--rate` per
  second for `--seconds`, whatever the answers do. Latency is measured from
  each request's *scheduled* start, so a server that falls behind shows it
  (no coordinated omission); `service p99` is from the moment it was sent;
- max rate (closed loop): `--clients` loops each send the next validation as
  soon as the last one answered, `--max-validations` in all;
- with `--stages`, the same open-loop rate for cheaper requests on the same
  server, each adding one layer: GET /healthz (HTTP), `{ __typename }`
  (GraphQL parse/validate/execute), `{ me { id } }` (+ sign-in: JWT and the
  user row), validateTicket with a forged token (+ door access check and the
  signature, no write), then the same validation statements sent raw through
  asyncpg (the database's share).

At the end the database must hold exactly one USED ticket per VALID answer.

    python bench/validation.py                       # 2 workers, ~1.5 minutes on 2 cores
    python bench/validation.py --stages              # + where the time goes, ~2.5 minutes
    python bench/validation.py --rate 150 --seconds 20   # another offered rate
    python bench/validation.py --workers 1 --cprofile /tmp/door.prof
    python bench/validation.py --help

Needs PostgreSQL (`EVENTHUB_TEST_POSTGRES_URL`, or
postgresql://postgres@127.0.0.1:5432/postgres); creates its own database and
drops it at the end. The target (from the issue): p99 < 15 ms over HTTP at
200 validations/s on the 2-core bench machine.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from booking import Api as BookingApi  # bench/ is sys.path[0]
from booking import CpuMeter, admin_execute, eventhub_server, print_profile
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from eventhub.services.ticket_tokens import InvalidToken, TicketSigner

TARGET_P99_MS = 15.0
PER_ORDER = 500  # tickets per order while arranging (the server's max_tickets_per_tier)
SCANNERS = 8
VALIDATE = """
mutation($eventId: ID!, $token: String!) {
  validateTicket(eventId: $eventId, token: $token) {
    outcome firstCheckedInAt ticket { id status checkedInAt }
  }
}"""
CREATE_EVENT = """
mutation($input: CreateEventInput!) {
  createEvent(input: $input) { event { id ticketTypes { id } } errors { code message } }
}"""
PUBLISH = "mutation($id: ID!) { publishEvent(id: $id) { errors { code message } } }"
ASSIGN = """
mutation($eventId: ID!, $email: String!) {
  assignStaff(eventId: $eventId, email: $email) { errors { code message } }
}"""
RESERVE = """
mutation($input: ReserveTicketsInput!) {
  reserveTickets(input: $input) { order { status tickets { qrToken } } errors { code message } }
}"""

Send = Callable[[int], Awaitable[str]]


# --- results -----------------------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    """The p-th percentile in milliseconds (inclusive method)."""
    if len(values) < 2:
        return 1000 * (values[0] if values else float("nan"))
    cuts = statistics.quantiles(values, n=1000, method="inclusive")
    return 1000 * cuts[min(int(p * 10), 999) - 1]


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has been busy (all CPUs), from /proc/stat."""
    with open("/proc/stat") as stat:
        fields = [int(value) for value in stat.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


Spending = tuple[dict[str, dict[int, float]], float, float]  # per-process, client, machine


def spend(before: Spending, meter: CpuMeter) -> dict[str, float]:
    """CPU seconds since `before` by app / db / client, and by every other process."""
    snapshot, client_cpu, busy = before
    cpu = CpuMeter.spent(snapshot, meter.snapshot())
    cpu["client"] = time.process_time() - client_cpu
    cpu["others"] = max(0.0, machine_busy_seconds() - busy - sum(cpu.values()))
    return cpu


def start_spending(meter: CpuMeter) -> Spending:
    return meter.snapshot(), time.process_time(), machine_busy_seconds()


@dataclass
class Run:
    name: str
    seconds: float
    latencies: list[float]  # from the scheduled start (open loop) or the send (closed loop)
    service: list[float]  # from the send
    outcomes: Counter[str]
    cpu: dict[str, float]  # CPU seconds by app / db / client / others (the rest of the machine)
    offered: float | None = None  # requests per second, open loop

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds

    def cpu_ms(self, group: str) -> str:
        spent = self.cpu.get(group, 0.0)
        return f"{1000 * spent / len(self.latencies):.2f}" if spent else "-"

    def row(self) -> str:
        offered = f"{self.offered:.0f}/s" if self.offered else "max"
        return (
            f"| {self.name:<28} | {offered:>7} | {len(self.latencies):>6} | {self.rate:>7.1f}"
            f" | {percentile(self.latencies, 50):>6.2f} | {percentile(self.latencies, 90):>6.2f}"
            f" | {percentile(self.latencies, 99):>6.2f} | {1000 * max(self.latencies):>7.2f}"
            f" | {percentile(self.service, 99):>7.2f} | {self.cpu_ms('app'):>6}"
            f" | {self.cpu_ms('db'):>6} | {self.cpu_ms('client'):>6}"
            f" | {self.cpu.get('others', 0.0) / self.seconds:>6.2f} | {dict(self.outcomes)} |"
        )


HEADER = (
    "| run                          | offered |   sent |  rate/s | p50 ms | p90 ms | p99 ms"
    " |  max ms | svc p99 | app ms | db ms  | cli ms | others | outcomes |\n"
    "|------------------------------|--------:|-------:|--------:|-------:|-------:|-------:"
    "|--------:|--------:|-------:|-------:|-------:|-------:|----------|"
)
NOTE = """\
p50/p90/p99/max: latency from each request's scheduled start (open loop) or its send
  (closed loop); svc p99: from the moment it was actually sent.
app/db/cli ms: CPU milliseconds per request of the server's processes, the bench database's
  PostgreSQL backends and this client process.
others: CPUs' worth used meanwhile by everything else on the machine, PostgreSQL's own
  background processes included (near 0 on a quiet machine; a row with a high figure
  was disturbed by other work)."""


async def measure_open_loop(
    name: str, rate: float, seconds: float, send: Send, meter: CpuMeter
) -> Run:
    """Start request n at t0 + n/rate, never waiting for answers.

    Times come from perf_counter: uvloop's loop.time() only has millisecond resolution.
    """
    clock = time.perf_counter
    total = int(rate * seconds)
    latencies: list[float] = []
    service: list[float] = []
    outcomes: Counter[str] = Counter()

    async def one(n: int, due: float) -> None:
        sent = clock()
        try:
            outcome = await send(n)
        except Exception as error:  # a benchmark counts failures instead of stopping
            outcome = f"{type(error).__name__}: {str(error)[:60]}"
        done = clock()
        latencies.append(done - due)
        service.append(done - sent)
        outcomes[outcome] += 1

    before = start_spending(meter)
    start = clock() + 0.05
    tasks = []
    for n in range(total):
        due = start + n / rate
        delay = due - clock()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(n, due)))
    await asyncio.gather(*tasks)
    elapsed = clock() - start
    return Run(name, elapsed, latencies, service, outcomes, spend(before, meter), offered=rate)


async def measure_closed_loop(
    name: str, clients: int, total: int, send: Send, meter: CpuMeter
) -> Run:
    """`clients` loops share `total` requests; each sends its next as soon as one answers."""
    numbers = iter(range(total))
    latencies: list[float] = []
    outcomes: Counter[str] = Counter()

    async def loop_() -> None:
        for n in numbers:
            started = time.perf_counter()
            try:
                outcome = await send(n)
            except Exception as error:
                outcome = f"{type(error).__name__}: {str(error)[:60]}"
            latencies.append(time.perf_counter() - started)
            outcomes[outcome] += 1

    before = start_spending(meter)
    started = time.perf_counter()
    await asyncio.gather(*(loop_() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    return Run(name, elapsed, latencies, latencies, outcomes, spend(before, meter))


# --- the signature check alone -----------------------------------------------------------------


def time_per_call(work: Callable[[], object], calls: int) -> float:
    """Microseconds per call, best of 5 rounds."""
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            work()
        best = min(best, (time.perf_counter() - started) / calls)
    return best * 1e6


def signature_figures(calls: int) -> dict[str, float]:
    key = Ed25519PrivateKey.generate()
    signer = TicketSigner(key, [Ed25519PrivateKey.generate().public_key()])
    token = signer.sign(123_456, 789)
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    forged = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    public = key.public_key()

    def verify_forged() -> None:
        try:
            signer.verify(forged)
        except InvalidToken:
            return
        raise AssertionError("a forged token verified")

    return {
        "TicketSigner.verify (genuine token)": time_per_call(lambda: signer.verify(token), calls),
        "TicketSigner.verify (forged signature)": time_per_call(verify_forged, calls),
        "Ed25519PublicKey.verify alone": time_per_call(
            lambda: public.verify(raw[21:], raw[:21]), calls
        ),
        "TicketSigner.sign": time_per_call(lambda: signer.sign(123_456, 789), calls),
    }


# --- a lean HTTP/1.1 client for the measured requests ---------------------------------------


@dataclass
class Connection:
    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    last_used: float


class Connections:
    """Keep-alive HTTP/1.1 connections, each carrying one request at a time.

    httpx's pool costs the client several ms of CPU per request once an open-loop
    backlog builds up, on the same 2 cores as the server: the measurement would
    starve what it measures. This costs ~0.1 ms. A request waits for an idle
    connection (that wait counts in its latency). uvicorn closes a connection
    idle for 5 s, so one idle for longer than IDLE_LIMIT is replaced before use.
    """

    IDLE_LIMIT = 3.0

    def __init__(self, base_url: str, size: int) -> None:
        host_port = base_url.split("://", 1)[1]
        self.host, port = host_port.rsplit(":", 1)
        self.port = int(port)
        self.size = size
        self.idle: asyncio.LifoQueue[Connection] = asyncio.LifoQueue()

    async def _connect(self) -> Connection:
        reader, writer = await asyncio.open_connection(self.host, self.port)
        return Connection(reader, writer, time.monotonic())

    async def open(self) -> None:
        for _ in range(self.size):
            self.idle.put_nowait(await self._connect())

    async def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().writer.close()

    async def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> tuple[int, bytes]:
        head = [f"{method} {path} HTTP/1.1", f"host: {self.host}:{self.port}"]
        if body:
            head += ["content-type: application/json", f"content-length: {len(body)}"]
        head += [f"{name}: {value}" for name, value in (headers or {}).items()]
        message = ("\r\n".join(head) + "\r\n\r\n").encode() + body
        connection = await self.idle.get()
        try:
            if time.monotonic() - connection.last_used > self.IDLE_LIMIT:
                connection.writer.close()
                connection = await self._connect()
            connection.writer.write(message)
            answer = await self._read_response(connection.reader)
        except BaseException:
            connection.writer.close()
            self.idle.put_nowait(await self._connect())
            raise
        connection.last_used = time.monotonic()
        self.idle.put_nowait(connection)
        return answer

    @staticmethod
    async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
        status_line = await reader.readline()
        if not status_line:
            raise ConnectionResetError("the server closed the connection")
        status = int(status_line.split(b" ", 2)[1])
        length, chunked = 0, False
        while (line := await reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if not chunked:
            return status, await reader.readexactly(length)
        parts = []
        while size := int((await reader.readline()).strip(), 16):
            parts.append(await reader.readexactly(size))
            await reader.readline()
        await reader.readline()
        return status, b"".join(parts)

    async def graphql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> tuple[int, Any]:
        body = json.dumps({"query": query, "variables": variables or {}}).encode()
        headers = {"authorization": f"Bearer {token}"} if token else {}
        status, content = await self.request("POST", "/graphql", body, headers)
        return status, json.loads(content) if content else None


# --- arranging through the API -----------------------------------------------------------------


@dataclass
class Door:
    event_id: str
    scanner_tokens: list[str]  # access tokens of the assigned staff
    scanner_emails: list[str]
    tickets: list[str]  # qrTokens, each validated once


class Api(BookingApi):
    """The booking benchmark's GraphQL client, plus arranging a door."""

    async def arrange(self, tickets: int) -> Door:
        """An event with `tickets` paid tickets and SCANNERS staff assigned to it."""
        run = uuid.uuid4().hex[:6]
        organizer = await self.register(f"organizer-{run}@example.com", organizer=True)
        starts = datetime.now(UTC) + timedelta(days=1)
        data = {
            "name": f"Door bench {run}",
            "startsAt": starts.isoformat(),
            "endsAt": (starts + timedelta(hours=3)).isoformat(),
            "capacity": tickets,
            "currency": "USD",
            "ticketTypes": [{"name": "General", "price": "10.00", "limit": tickets}],
        }
        event = (await self.call(CREATE_EVENT, {"input": data}, organizer))["event"]
        await self.call(PUBLISH, {"id": event["id"]}, organizer)
        emails = [f"scanner-{run}-{n}@example.com" for n in range(SCANNERS)]
        scanners = [await self.register(email) for email in emails]
        for email in emails:
            await self.call(ASSIGN, {"eventId": event["id"], "email": email}, organizer)
        buyer = await self.register(f"buyer-{run}@example.com")
        tokens: list[str] = []
        while len(tokens) < tickets:
            seats = min(PER_ORDER, tickets - len(tokens))
            line = {"ticketTypeId": event["ticketTypes"][0]["id"], "quantity": seats}
            variables = {"input": {"eventId": event["id"], "items": [line]}}
            order = (await self.call(RESERVE, variables, buyer))["order"]
            assert order["status"] == "PAID", order["status"]
            tokens.extend(ticket["qrToken"] for ticket in order["tickets"])
        return Door(event["id"], scanners, emails, tokens)


def validator(http: Connections, door: Door, pool: list[str]) -> Send:
    """Each call validates the next unused ticket of `pool`, as the next scanner in turn."""
    next_ticket = iter(pool)

    async def send(n: int) -> str:
        variables = {"eventId": door.event_id, "token": next(next_ticket)}
        status, body = await http.graphql(VALIDATE, variables, door.scanner_tokens[n % SCANNERS])
        if status != 200:
            return f"HTTP {status}"
        if body.get("errors"):
            return "top-level error: " + str(body["errors"][0].get("message"))[:40]
        return str(body["data"]["validateTicket"]["outcome"])

    return send


def stage_probes(http: Connections, door: Door) -> dict[str, Send]:
    """Cheaper requests, each adding one layer under a validation."""
    staff = door.scanner_tokens[0]
    genuine = door.tickets[0]
    forged = genuine[:-2] + ("A" if genuine[-2] != "A" else "B") + genuine[-1]

    def verdict(status: int, body: Any, want: str) -> str:
        if status != 200:
            return f"HTTP {status}"
        if body.get("errors"):
            return "top-level error"
        return "OK" if want in json.dumps(body) else "unexpected answer"

    async def healthz(_n: int) -> str:
        status, _body = await http.request("GET", "/healthz")
        return "OK" if status == 200 else f"HTTP {status}"

    async def typename(_n: int) -> str:
        return verdict(*(await http.graphql("{ __typename }")), "Query")

    async def me(_n: int) -> str:
        return verdict(*(await http.graphql("{ me { id } }", token=staff)), '"id"')

    async def forged_token(_n: int) -> str:
        variables = {"eventId": door.event_id, "token": forged}
        return verdict(*(await http.graphql(VALIDATE, variables, staff)), '"INVALID"')

    return {
        "stage GET /healthz": healthz,
        "stage { __typename }": typename,
        "stage { me { id } }": me,
        "stage validate, forged token": forged_token,
    }


# --- the same statements, raw ------------------------------------------------------------------

RAW_STATEMENTS = {
    "user": "SELECT id, email, name, password_hash, roles, is_active, birth_year, country, "
    "created_at, deactivated_at FROM users WHERE id = $1",
    "event": "SELECT id, organizer_id, name, description, venue, starts_at, ends_at, status, "
    "capacity, sold, currency, image_path, created_at FROM events WHERE id = $1",
    "staff": "SELECT event_id, user_id, created_at FROM event_staff "
    "WHERE event_id = $1 AND user_id = $2",
    "admit": "UPDATE tickets SET status = 'USED', checked_in_at = $1, checked_in_by_id = $2 "
    "WHERE id = $3 AND event_id = $4 AND status = 'VALID'",
    "notify": "SELECT pg_notify('eventhub_changes', $1)",
    "ticket": "SELECT id, order_id, event_id, ticket_type_id, status, checked_in_at, "
    "checked_in_by_id, created_at FROM tickets WHERE id = $1",
    "audit": "INSERT INTO audit_entries (at, actor_id, action, target_type, target_id, ip, "
    "details) VALUES ($1, $2, 'ticket.validate', 'Ticket', $3, '127.0.0.1', $4) RETURNING id",
}


def ticket_pk(token: str) -> int:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return int.from_bytes(raw[5:13], "big")


def raw_validator(pool: asyncpg.Pool, event_pk: int, user_pk: int, tickets: list[str]) -> Send:
    """The app's validation transaction, statement for statement, with no app around it."""
    next_ticket = iter(tickets)

    async def send(_n: int) -> str:
        ticket = ticket_pk(next(next_ticket))
        now = datetime.now(UTC)
        details = f'{{"event_id": {event_pk}, "outcome": "VALID"}}'
        async with pool.acquire() as connection, connection.transaction():
            await connection.fetchrow(RAW_STATEMENTS["user"], user_pk)
            await connection.fetchrow(RAW_STATEMENTS["event"], event_pk)
            await connection.fetchrow(RAW_STATEMENTS["staff"], event_pk, user_pk)
            status = await connection.execute(
                RAW_STATEMENTS["admit"], now, user_pk, ticket, event_pk
            )
            if status != "UPDATE 1":
                return "not admitted"
            await connection.execute(RAW_STATEMENTS["notify"], str(event_pk))
            await connection.fetchrow(RAW_STATEMENTS["ticket"], ticket)
            await connection.fetchval(RAW_STATEMENTS["audit"], now, user_pk, str(ticket), details)
        return "VALID"

    return send


# --- the run -----------------------------------------------------------------------------------


class Bench:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.database = f"eventhub_bench_door_{uuid.uuid4().hex[:8]}"
        self.meter = CpuMeter(self.database)
        self.runs: list[Run] = []
        self.valid_answers = 0  # every VALID answer must be one USED ticket in the database
        self.spare: list[str] = []  # tickets left for the raw SQL stage

    @property
    def libpq_url(self) -> str:
        return f"{self.args.postgres_url.rsplit('/', 1)[0]}/{self.database}"

    @property
    def app_url(self) -> str:
        return "postgresql+asyncpg://" + self.libpq_url.split("://", 1)[1]

    def tickets_needed(self) -> int:
        args = self.args
        fixed = int(args.rate * (args.seconds + args.warmup_seconds))
        raw = int(args.rate * args.stage_seconds) if args.stages else 0
        return fixed + args.max_validations + args.clients * 50 + raw

    def record(self, run: Run) -> None:
        self.runs.append(run)
        self.valid_answers += run.outcomes["VALID"]
        print(run.row(), flush=True)

    async def run(self) -> int:
        args = self.args
        print(f"signature check alone ({args.verify_calls} calls, best of 5):")
        figures = signature_figures(args.verify_calls)
        for name, micros in figures.items():
            print(f"  {name:<40} {micros:7.1f} µs")
        await admin_execute(args.postgres_url, f'CREATE DATABASE "{self.database}"')
        try:
            with tempfile.TemporaryDirectory(prefix="eventhub-bench-door-") as workdir:
                await self.server_runs(Path(workdir))
            used = await self.used_tickets()
        finally:
            await admin_execute(
                args.postgres_url, f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)'
            )
        self.summary(used)
        if args.cprofile and args.cprofile.exists():
            print_profile(args.cprofile)
        return 0 if used == self.valid_answers else 1

    async def server_runs(self, workdir: Path) -> None:
        args = self.args
        settings = {"max_tickets_per_tier": str(PER_ORDER)}
        settings.update(dict(setting.split("=", 1) for setting in args.server_setting))
        profile = args.cprofile if args.workers == 1 else None
        limits = httpx.Limits(max_connections=8)
        with eventhub_server(self.app_url, args.workers, workdir, profile, settings) as (url, pid):
            self.meter.server_group = pid
            async with httpx.AsyncClient(base_url=url, limits=limits, timeout=60) as http:
                api = Api(http)
                started = time.perf_counter()
                door = await api.arrange(self.tickets_needed())
                took = time.perf_counter() - started
                print(f"\narranged {len(door.tickets)} tickets and {SCANNERS} scanners in "
                      f"{took:.1f}s; {args.workers} worker(s)\n")  # fmt: skip
                print(HEADER)
                connections = Connections(url, args.connections)
                await connections.open()
                try:
                    await self.validation_runs(connections, door)
                    if args.stages:
                        await self.stage_runs(connections, door)
                finally:
                    await connections.close()
        self.meter.server_group = None

    async def validation_runs(self, http: Connections, door: Door) -> None:
        args = self.args
        tickets = iter(door.tickets)

        def take(n: int) -> list[str]:
            return [next(tickets) for _ in range(n)]

        warm = int(args.rate * args.warmup_seconds)
        self.record(await measure_open_loop(
            "warm-up", args.rate, args.warmup_seconds, validator(http, door, take(warm)), self.meter
        ))  # fmt: skip
        fixed = int(args.rate * args.seconds)
        self.record(await measure_open_loop(
            "validate, fixed rate", args.rate, args.seconds, validator(http, door, take(fixed)),
            self.meter,
        ))  # fmt: skip
        self.record(await measure_closed_loop(
            f"validate, max rate ({args.clients} cl.)", args.clients, args.max_validations,
            validator(http, door, take(args.max_validations)), self.meter,
        ))  # fmt: skip
        self.spare = list(tickets)

    async def stage_runs(self, http: Connections, door: Door) -> None:
        args = self.args
        for name, probe in stage_probes(http, door).items():
            self.record(
                await measure_open_loop(name, args.rate, args.stage_seconds, probe, self.meter)
            )
        async with asyncpg.create_pool(self.libpq_url, min_size=4, max_size=16) as pool:
            event_pk = await pool.fetchval("SELECT id FROM events ORDER BY id DESC LIMIT 1")
            user_pk = await pool.fetchval(
                "SELECT id FROM users WHERE email = $1", door.scanner_emails[0]
            )
            send = raw_validator(pool, int(event_pk), int(user_pk), self.spare)
            run = await measure_open_loop(
                "raw SQL (asyncpg), same txn", args.rate, args.stage_seconds, send, self.meter
            )
            self.record(run)

    async def used_tickets(self) -> int:
        connection = await asyncpg.connect(self.libpq_url)
        try:
            used = await connection.fetchval("SELECT COUNT(*) FROM tickets WHERE status = 'USED'")
            return int(used)
        finally:
            await connection.close()

    def summary(self, used: int) -> None:
        print()
        print(NOTE)
        fixed = next(run for run in self.runs if run.name == "validate, fixed rate")
        p99 = percentile(fixed.latencies, 99)
        verdict = "MET" if p99 < TARGET_P99_MS else "MISSED"
        print(f"\ntarget: p99 < {TARGET_P99_MS:.0f} ms at {self.args.rate:.0f} validations/s "
              f"over HTTP -> p99 {p99:.2f} ms: {verdict}")  # fmt: skip
        best = next(run for run in self.runs if run.name.startswith("validate, max rate"))
        print(f"max rate: {best.rate:.0f} validations/s (p50 {percentile(best.latencies, 50):.1f}"
              f" ms, p99 {percentile(best.latencies, 99):.1f} ms)")  # fmt: skip
        print(f"USED tickets in the database: {used}; VALID answers: {self.valid_answers} -> "
              + ("consistent" if used == self.valid_answers else "MISMATCH"))  # fmt: skip
        print(f"load average at the end: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="EventHub ticket validation over HTTP: fixed-rate latency and max rate."
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "EVENTHUB_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
        ),
        help="maintenance database to create the bench database from",
    )
    parser.add_argument(
        "--workers", type=int, default=2, help="server workers (default 2: one per core here)"
    )
    parser.add_argument(
        "--rate", type=float, default=200, help="offered validations/s, open loop (default 200)"
    )
    parser.add_argument(
        "--seconds", type=float, default=30, help="length of the fixed-rate run (default 30)"
    )
    parser.add_argument(
        "--warmup-seconds", type=float, default=3, help="fixed-rate warm-up (default 3)"
    )
    parser.add_argument(
        "--clients", type=int, default=16, help="concurrent clients at max rate (default 16)"
    )
    parser.add_argument(
        "--max-validations",
        type=int,
        default=5000,
        help="validations in the max-rate run (default 5000)",
    )
    parser.add_argument(
        "--connections",
        type=int,
        default=64,
        help="keep-alive connections for the measured requests (default 64)",
    )
    parser.add_argument(
        "--stages", action="store_true", help="also time the cheaper layers and raw SQL"
    )
    parser.add_argument(
        "--stage-seconds", type=float, default=10, help="length of each stage run (default 10)"
    )
    parser.add_argument(
        "--verify-calls", type=int, default=20_000, help="calls per signature timing round"
    )
    parser.add_argument(
        "--server-setting",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="an EVENTHUB_* setting for the server, e.g. db_pool_size=4 (repeatable)",
    )
    parser.add_argument(
        "--cprofile",
        type=Path,
        metavar="FILE",
        help="(1 worker) run the server under cProfile and print its top functions",
    )
    return parser.parse_args(argv)


def main() -> int:
    args = parse_args()
    try:
        import uvloop
    except ImportError:
        return asyncio.run(Bench(args).run())
    return uvloop.run(Bench(args).run())


if __name__ == "__main__":
    sys.exit(main())
