"""A small graphql-transport-ws client for tests of the live subscriptions.

`open_socket(base_url, token)` connects to WS /graphql, sends `connection_init`
(with `{"authorization": "Bearer <token>"}` when a token is given) and waits
for `connection_ack`. A reader task records every message as it arrives, so a
test can count what a subscriber was sent during a burst and still wait, with
a generous timeout, for the state it expects. Pings are answered; nothing else
is sent unless the test asks.

`serving_pids` tells which server process holds the other end of a local TCP
connection (Linux /proc), so a test can prove it spread connections over workers.

`shared_server` starts one `eventhub serve` on a fresh database for a whole
test module (starting one per test costs more than the tests themselves);
the tests then keep apart by using events of their own.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.conftest import (
    PG_ENV,
    _admin_execute,
    _admin_pg_url,
    _asyncpg_to_sqlalchemy,
    _pg_answers,
)
from tests.e2e.conftest import Database, RunningServer, ServerLauncher

PROTOCOL = Subprotocol("graphql-transport-ws")
WAIT = 20.0  # seconds: a generous bound for anything the server should do "at once"

CAPACITY_CHANGED = """
subscription($eventId: ID!) {
  capacityChanged(eventId: $eventId) {
    eventId sold remaining at ticketTypes { id name limit sold remaining }
  }
}"""
SALES_UPDATED = """
subscription($eventId: ID!) {
  salesUpdated(eventId: $eventId) {
    eventId ticketsSold checkedIn at netRevenue { amount currency }
  }
}"""


class SocketClosed(AssertionError):
    """The server closed the WebSocket while the test was still waiting for something."""


@dataclass(frozen=True)
class Received:
    at: float  # time.monotonic() when the message arrived
    message: dict[str, Any]


@dataclass
class GraphQLSocket:
    """One graphql-transport-ws connection, after `connection_ack`."""

    connection: ClientConnection
    received: list[Received] = field(default_factory=list)
    served_by: int | None = None  # the server process holding the other end, when asked
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    @property
    def close_code(self) -> int | None:
        return self.connection.close_code

    @property
    def local_port(self) -> int:
        port: int = self.connection.local_address[1]
        return port

    async def read_forever(self) -> None:
        """Record every message; answer pings (the server's keep-alive)."""
        try:
            async for raw in self.connection:
                message: dict[str, Any] = json.loads(raw)
                if message.get("type") == "ping":
                    await self.send({"type": "pong"})
                    continue
                self.received.append(Received(time.monotonic(), message))
                self._arrived.set()
        except ConnectionClosed:
            pass
        finally:
            self._arrived.set()

    async def send(self, message: dict[str, Any]) -> None:
        await self.connection.send(json.dumps(message))

    async def subscribe(self, query: str, variables: dict[str, Any]) -> str:
        """Start an operation; returns its id."""
        operation = str(next(self._ids))
        payload = {"query": query, "variables": variables}
        await self.send({"id": operation, "type": "subscribe", "payload": payload})
        return operation

    async def complete(self, operation: str) -> None:
        await self.send({"id": operation, "type": "complete"})

    def messages(self, operation: str) -> list[Received]:
        return [r for r in self.received if r.message.get("id") == operation]

    def states(self, operation: str) -> list[dict[str, Any]]:
        """The data of every `next` message of the operation that carried data."""
        return [
            next(iter(r.message["payload"]["data"].values()))
            for r in self.messages(operation)
            if r.message["type"] == "next" and r.message["payload"].get("data")
        ]

    async def wait_until(
        self, done: Callable[[], bool], within: float = WAIT, what: str = "a message"
    ) -> None:
        """Wait for the messages received so far to satisfy `done`."""
        deadline = time.monotonic() + within
        while not done():
            if self.connection.close_code is not None:
                raise SocketClosed(
                    f"closed ({self.close_code} {self.connection.close_reason!r}) while "
                    f"waiting for {what}; received: {[r.message for r in self.received]}"
                )
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(
                    f"no {what} within {within:.0f}s; received: "
                    f"{[r.message for r in self.received][-5:]}"
                )
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), left)

    async def settled(self, silence: float, within: float = WAIT) -> None:
        """Wait until nothing has arrived for `silence` seconds (a change may still be echoing).

        A signal that lands while the server is reading the state makes it read
        and send once more, so one change can yield two identical messages.
        """
        deadline = time.monotonic() + within
        while True:
            last = self.received[-1].at if self.received else 0.0
            quiet_until = last + silence
            if time.monotonic() >= quiet_until:
                return
            assert time.monotonic() < deadline, f"still receiving after {within:.0f}s"
            await asyncio.sleep(quiet_until - time.monotonic())

    async def state_where(
        self,
        operation: str,
        matches: Callable[[dict[str, Any]], bool],
        within: float = WAIT,
        *,
        after: int = 0,
    ) -> dict[str, Any]:
        """The first state that `matches` among those after the `after` first ones, awaited."""

        def found() -> dict[str, Any] | None:
            return next((s for s in self.states(operation)[after:] if matches(s)), None)

        await self.wait_until(lambda: found() is not None, within, "a matching state")
        state = found()
        assert state is not None
        return state

    async def first_state(self, operation: str, within: float = WAIT) -> dict[str, Any]:
        return await self.state_where(operation, lambda _state: True, within)

    async def ending_errors(self, operation: str, within: float = WAIT) -> list[dict[str, Any]]:
        """The GraphQL errors the server ended the operation with (waiting for its end).

        graphql-transport-ws ends a refused operation either with one `error`
        message (before execution) or with a `next` carrying `errors` and no
        data, then `complete` (an error raised while executing).
        """

        def ended() -> bool:
            return any(r.message["type"] in ("error", "complete") for r in self.messages(operation))

        await self.wait_until(ended, within, f"the end of operation {operation}")
        errors: list[dict[str, Any]] = []
        for received in self.messages(operation):
            message = received.message
            if message["type"] == "error":
                errors.extend(message["payload"])
            elif message["type"] == "next" and not message["payload"].get("data"):
                errors.extend(message["payload"].get("errors") or [])
        assert errors, f"operation {operation} ended without an error: {self.messages(operation)}"
        return errors

    async def refusal(self, operation: str, within: float = WAIT) -> list[dict[str, Any]]:
        """The errors of an operation that ended without sending any state."""
        errors = await self.ending_errors(operation, within)
        assert self.states(operation) == [], (
            f"sent states before refusing: {self.states(operation)}"
        )
        return errors


def graphql_ws_url(base_url: str) -> str:
    return base_url.replace("http://", "ws://", 1).replace("https://", "wss://", 1) + "/graphql"


def init_payload(token: str | None) -> dict[str, Any]:
    return {"authorization": f"Bearer {token}"} if token else {}


@contextlib.asynccontextmanager
async def open_socket(
    base_url: str, token: str | None = None, *, within: float = WAIT
) -> AsyncIterator[GraphQLSocket]:
    """A connection that got `connection_ack`; closed (and its reader stopped) on exit."""
    async with connect(
        graphql_ws_url(base_url),
        subprotocols=[PROTOCOL],
        proxy=None,
        open_timeout=within,
        ping_interval=None,  # the server keeps the connection alive with protocol pings
        max_queue=None,  # never push back on the server: a test reads everything it is sent
        compression=None,
    ) as connection:
        await connection.send(
            json.dumps({"type": "connection_init", "payload": init_payload(token)})
        )
        ack = json.loads(await asyncio.wait_for(connection.recv(), within))
        assert ack["type"] == "connection_ack", ack
        socket = GraphQLSocket(connection)
        reader = asyncio.create_task(socket.read_forever())
        try:
            yield socket
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def refused_at_init(
    base_url: str, token: str, *, within: float = WAIT
) -> tuple[int | None, str | None]:
    """(close code, reason) of a socket the server closed in answer to `connection_init`."""
    async with connect(
        graphql_ws_url(base_url), subprotocols=[PROTOCOL], proxy=None, open_timeout=within
    ) as connection:
        await connection.send(
            json.dumps({"type": "connection_init", "payload": init_payload(token)})
        )
        try:
            answer = await asyncio.wait_for(connection.recv(), within)
        except ConnectionClosed:
            return connection.close_code, connection.close_reason
    raise AssertionError(f"connection_init was answered with {answer!r}, not a close")


@contextlib.asynccontextmanager
async def open_sockets(
    base_url: str, count: int, token: str | None = None
) -> AsyncIterator[list[GraphQLSocket]]:
    """`count` connections opened at the same moment (so several workers accept them)."""
    async with contextlib.AsyncExitStack() as stack:
        sockets = await asyncio.gather(
            *(stack.enter_async_context(open_socket(base_url, token)) for _ in range(count))
        )
        yield list(sockets)


# --- which worker serves a connection -----------------------------------------------------------


def _socket_inodes_by_peer_port(local_port: int) -> dict[int, int]:
    """{client port: inode} of the server-side TCP sockets listening on `local_port`."""
    found: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with contextlib.suppress(OSError):
            for line in Path(table).read_text().splitlines()[1:]:
                columns = line.split()
                local, remote, inode = columns[1], columns[2], int(columns[9])
                if int(local.rsplit(":", 1)[1], 16) == local_port and inode:
                    found[int(remote.rsplit(":", 1)[1], 16)] = inode
    return found


def serving_pids(process_group: int, server_port: int, client_ports: list[int]) -> list[int]:
    """For each local client port, the pid (in the server's process group) that holds its peer."""
    inodes = _socket_inodes_by_peer_port(server_port)
    owner: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        pid = int(entry)
        with contextlib.suppress(OSError):
            if os.getpgid(pid) != process_group:
                continue
            for fd in os.listdir(f"/proc/{pid}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    if target.startswith("socket:["):
                        owner[int(target[8:-1])] = pid
    missing = [port for port in client_ports if inodes.get(port) not in owner]
    assert not missing, f"no server process holds the peer of local ports {missing}"
    return [owner[inodes[port]] for port in client_ports]


def server_port(base_url: str) -> int:
    return int(base_url.rsplit(":", 1)[1])


async def wait_for_every_worker(
    base_url: str, process_group: int, workers: int, within: float = 60.0
) -> None:
    """Until each of the `workers` processes has answered a request (/readyz answers as soon
    as the first one is up; the others may still be starting)."""
    port, seen = server_port(base_url), set[int]()
    deadline = time.monotonic() + within

    async def served_by() -> int:
        async with httpx.AsyncClient(base_url=base_url, timeout=within) as http:
            response = await http.get("/healthz")
            local_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
            [pid] = serving_pids(process_group, port, [local_port])
        return pid

    while len(seen) < workers:
        assert time.monotonic() < deadline, f"only {len(seen)} of {workers} workers answer"
        seen.update(await asyncio.gather(*(served_by() for _ in range(2 * workers))))
        await asyncio.sleep(0.1)


@contextlib.asynccontextmanager
async def open_sockets_on_workers(
    base_url: str, process_group: int, workers: int, *, batch: int = 8, most: int = 96
) -> AsyncIterator[list[GraphQLSocket]]:
    """Connections spread over every worker, each knowing the pid that serves it.

    Batches are opened at once until each of the `workers` holds some.
    """
    port = server_port(base_url)
    async with contextlib.AsyncExitStack() as stack:
        sockets: list[GraphQLSocket] = []
        while True:
            sockets += await asyncio.gather(
                *(stack.enter_async_context(open_socket(base_url)) for _ in range(batch))
            )
            pids = serving_pids(process_group, port, [s.local_port for s in sockets])
            if len(set(pids)) >= workers:
                break
            assert len(sockets) < most, f"{len(sockets)} connections reached only {set(pids)}"
        for socket, pid in zip(sockets, pids, strict=True):
            socket.served_by = pid
        yield sockets


# --- one server for a module's tests -------------------------------------------------------------


@dataclass(frozen=True)
class SharedServer:
    server: RunningServer
    database: Database
    is_sqlite: bool


@contextlib.asynccontextmanager
async def _fresh_database(kind: str, folder: Path) -> AsyncIterator[str]:
    """A new empty database (the server migrates it), as tests/e2e/conftest.py makes them."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{folder / 'eventhub.db'}"
        return
    admin_url, required = _admin_pg_url()
    problem = await _pg_answers(admin_url)
    if problem:
        message = f"PostgreSQL at {admin_url} does not answer ({problem})"
        if required:
            pytest.fail(f"{PG_ENV} is set but {message}", pytrace=False)
        pytest.skip(f"{message}; start it or set {PG_ENV} to run the PostgreSQL half")
    name = f"eventhub_live_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    await _admin_execute(admin_url, f'CREATE DATABASE "{name}"')
    try:
        yield _asyncpg_to_sqlalchemy(f"{admin_url.rsplit('/', 1)[0]}/{name}")
    finally:
        await _admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextlib.asynccontextmanager
async def shared_server(
    request: pytest.FixtureRequest, folder: Path, kind: str, workers: int, **settings: str | float
) -> AsyncIterator[SharedServer]:
    """`eventhub serve --workers N` on a fresh `kind` database in `folder`.

    Its log is printed at the end if a test failed while it ran.
    """
    failed_before = request.session.testsfailed
    async with _fresh_database(kind, folder) as database_url:
        launcher = ServerLauncher(database_url, folder)
        try:
            server = await launcher(workers=workers, **settings)
            await wait_for_every_worker(server.base_url, server.process.pid, workers)
            yield SharedServer(server, Database(database_url), kind == "sqlite")
        finally:
            launcher.stop_all()
            if request.session.testsfailed > failed_before:
                for started in launcher.servers:
                    print(f"\n===== {started.name} log ({kind}) =====\n{started.log()}")
