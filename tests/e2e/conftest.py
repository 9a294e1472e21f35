"""A real `eventhub serve` process on a fresh database, for tests that race real clients.

`e2e_database_url` is a new database of each kind: a SQLite file in the test's
folder, or a PostgreSQL database created for the test and dropped after it
(same EVENTHUB_TEST_POSTGRES_URL rule as tests/conftest.py: skip when unset
and nothing answers, fail when set and nothing answers). `start_server`
launches uvicorn workers on it, waits for /readyz and stops every server it
started when the test ends, printing their logs when the test failed.
`database` reads what was really stored, to check the seat accounting.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Generator, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models.database import create_engine, create_session_factory
from tests.conftest import (
    PG_ENV,
    TEST_SECRET,
    TEST_TICKET_KEY,
    _admin_execute,
    _admin_pg_url,
    _asyncpg_to_sqlalchemy,
    _pg_answers,
    run_blocking,
)
from tests.support.graphql import Account, GraphQLClient
from tests.support.invariant import check_invariant

READY_TIMEOUT = 30.0
STOP_GRACE = 10.0
_REPORTS = pytest.StashKey[dict[str, pytest.TestReport]]()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Remember each phase's report so fixtures can tell whether their test failed."""
    report = yield
    item.stash.setdefault(_REPORTS, {})[report.when] = report
    return report


def _failed(node: pytest.Item) -> bool:
    return any(report.failed for report in node.stash.get(_REPORTS, {}).values())


# --- databases ---------------------------------------------------------------------------------


@pytest.fixture(params=["sqlite", "postgresql"])
def e2e_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A brand-new, empty database; the server migrates it on start."""
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'eventhub.db'}"
        return
    admin_url, required = _admin_pg_url()
    problem = run_blocking(_pg_answers(admin_url))
    if problem:
        message = f"PostgreSQL at {admin_url} does not answer ({problem})"
        if required:
            pytest.fail(f"{PG_ENV} is set but {message}", pytrace=False)
        pytest.skip(f"{message}; start it or set {PG_ENV} to run the PostgreSQL half")
    name = f"eventhub_e2e_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    run_blocking(_admin_execute(admin_url, f'CREATE DATABASE "{name}"'))
    try:
        yield _asyncpg_to_sqlalchemy(f"{admin_url.rsplit('/', 1)[0]}/{name}")
    finally:
        run_blocking(_admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
def is_sqlite(e2e_database_url: str) -> bool:
    return e2e_database_url.startswith("sqlite")


# --- the server process ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def server_environment(database_url: str, **settings: str | float) -> dict[str, str]:
    """The parent's environment without its EVENTHUB_* values, plus test settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHUB_")}
    env.update(
        EVENTHUB_DATABASE_URL=database_url,
        EVENTHUB_SECRET_KEY=TEST_SECRET,
        EVENTHUB_TICKET_SIGNING_KEY=TEST_TICKET_KEY,
        EVENTHUB_PASSWORD_HASH_TIME_COST="1",
        EVENTHUB_PASSWORD_HASH_MEMORY_KIB="1024",
        EVENTHUB_RATE_LIMIT="1000000/minute",  # 500 customers share one IP here
        EVENTHUB_MAX_SOCKETS_PER_ADDRESS="100000",  # and so do the subscribers
        EVENTHUB_LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    env.update({f"EVENTHUB_{key.upper()}": str(value) for key, value in settings.items()})
    return env


@dataclass
class RunningServer:
    """One `eventhub serve` in its own process group (the supervisor and its workers)."""

    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path
    name: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _signal_group(self, signum: int) -> None:
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)

    def kill(self) -> None:
        """SIGKILL every process of the server at once, as a power cut would."""
        self._signal_group(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        """SIGTERM, then SIGKILL if it is still running after STOP_GRACE seconds."""
        if self.process.poll() is not None:
            return
        self._signal_group(signal.SIGTERM)
        try:
            self.process.wait(timeout=STOP_GRACE)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class ServerLauncher:
    database_url: str
    workdir: Path
    servers: list[RunningServer] = field(default_factory=list)

    async def __call__(self, *, workers: int = 1, **settings: str | float) -> RunningServer:
        """Start `eventhub serve --workers N` and return once /readyz answers 200."""
        server = self._spawn(workers, settings)
        self.servers.append(server)
        await _wait_until_ready(server)
        return server

    def _spawn(self, workers: int, settings: dict[str, str | float]) -> RunningServer:
        port = free_port()
        name = f"server{len(self.servers) + 1}"
        log_path = self.workdir / f"{name}.log"
        command = [
            sys.executable, "-m", "eventhub.cli", "serve",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        ]  # fmt: skip
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                command,
                cwd=self.workdir,
                env=server_environment(self.database_url, **settings),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg reaches the workers
            )
        return RunningServer(f"http://127.0.0.1:{port}", process, log_path, name)

    def stop_all(self) -> None:
        for server in self.servers:
            server.stop()


async def _wait_until_ready(server: RunningServer) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    async with httpx.AsyncClient(base_url=server.base_url, timeout=2) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                pytest.fail(
                    f"{server.name} exited with {server.process.returncode}:\n{server.log()}"
                )
            try:
                if (await http.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.1)
    pytest.fail(f"{server.name} not ready after {READY_TIMEOUT:.0f}s:\n{server.log()}")


@pytest.fixture
def start_server(
    request: pytest.FixtureRequest, e2e_database_url: str, tmp_path: Path
) -> Iterator[ServerLauncher]:
    """`server = await start_server(workers=4, hold_seconds=3)`; all are stopped afterwards."""
    launcher = ServerLauncher(e2e_database_url, tmp_path)
    yield launcher
    launcher.stop_all()
    if _failed(request.node):
        for server in launcher.servers:
            print(f"\n===== {server.name} log ({server.base_url}) =====\n{server.log()}")


@asynccontextmanager
async def graphql_client(
    server: RunningServer, connections: int = 100, request_timeout: float = 60
) -> AsyncIterator[GraphQLClient]:
    """One shared HTTP/1.1 client with room for `connections` requests at once."""
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    async with httpx.AsyncClient(
        base_url=server.base_url, limits=limits, timeout=request_timeout
    ) as http:
        yield GraphQLClient(http)


async def register_customers(
    client: GraphQLClient, count: int, concurrency: int = 20
) -> list[Account]:
    """`count` new customers, a few registrations at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def register_one() -> Account:
        async with gate:
            return await client.register()

    return await asyncio.gather(*(register_one() for _ in range(count)))


def outcome_of(answer: httpx.Response | BaseException) -> str:
    """What the buyer saw, in one word: PAID, a payload error code, or what went wrong."""
    if isinstance(answer, BaseException):
        return f"exception {type(answer).__name__}"
    if answer.status_code != 200:
        return f"HTTP {answer.status_code}"
    body: dict[str, Any] = answer.json()
    if body.get("errors"):
        message = str(body["errors"][0].get("message"))
        return f"top-level error: {message.split(' (request id')[0]}"
    payload = body["data"]["reserveTickets"]
    if payload["errors"]:
        return "+".join(error["code"] for error in payload["errors"])
    order = payload["order"]
    seats = sum(item["quantity"] for item in order["items"])
    if order["status"] == "PAID" and len(order["tickets"]) == seats:
        return "PAID"
    return f"order {order['status']} with {len(order['tickets'])} tickets for {seats} seats"


# --- what the database really holds ------------------------------------------------------------


@dataclass(frozen=True)
class SeatCounts:
    capacity: int
    sold: int
    tier_sold: int
    live_quantity: int
    paid_tickets: int


SEAT_SQL = """
SELECT e.capacity, e.sold,
  (SELECT COALESCE(SUM(t.sold), 0) FROM ticket_types t WHERE t.event_id = e.id) AS tier_sold,
  (SELECT COALESCE(SUM(i.quantity), 0) FROM order_items i JOIN orders o ON o.id = i.order_id
    WHERE o.event_id = e.id AND o.status IN ('PENDING', 'PAID')) AS live_quantity,
  (SELECT COUNT(*) FROM tickets k JOIN orders o ON o.id = k.order_id
    WHERE k.event_id = e.id AND o.status = 'PAID' AND k.status <> 'VOID') AS paid_tickets
FROM events e WHERE e.name = :name
"""
# The shared invariant cannot see an order a kill left without its items (no seats,
# so no tickets expected): a booking writes the order and its items in one transaction.
ORDERS_WITHOUT_ITEMS_SQL = """
SELECT o.id, o.status FROM orders o
WHERE NOT EXISTS (SELECT 1 FROM order_items i WHERE i.order_id = o.id)
"""


@dataclass
class Database:
    """Read-only probes on the database a server wrote to."""

    url: str

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        engine = create_engine(self.url, pool_size=1)
        try:
            async with create_session_factory(engine)() as session:
                yield session
        finally:
            await engine.dispose()

    async def seat_counts(self, event_name: str) -> SeatCounts:
        async with self.session() as session:
            row = (await session.execute(text(SEAT_SQL), {"name": event_name})).one()
            await session.rollback()
        return SeatCounts(*(int(value) for value in row))

    async def assert_consistent(self) -> None:
        """The seat-accounting invariant holds, and no order is missing its items."""
        async with self.session() as session:
            await check_invariant(session)
            orphans = (await session.execute(text(ORDERS_WITHOUT_ITEMS_SQL))).all()
            await session.rollback()
        assert orphans == [], f"orders without items (id, status): {orphans}"


@pytest.fixture
def database(e2e_database_url: str) -> Database:
    return Database(e2e_database_url)
