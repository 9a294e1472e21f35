"""Live updates cross worker processes: NOTIFY/LISTEN on PostgreSQL, polling on SQLite.

One server per database serves the module: 2 workers on SQLite, 4 on
PostgreSQL. Subscribers are spread over every worker (which process holds
each connection is read from /proc, so the test knows it really spread them),
and bookings arrive over new HTTP connections until every subscriber's worker
has seen a booking made by another worker.

Each worker's LISTEN connection is a plain asyncpg connection
(eventhub/live/listener.py): no application_name (the pool's
connections say "eventhub"), and its last statement is
`LISTEN "eventhub_changes"`, which is how pg_stat_activity finds it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.e2e.conftest import (
    Database,
    RunningServer,
    graphql_client,
    outcome_of,
    register_customers,
)
from tests.support.factories import RESERVE, create_event
from tests.support.graphql import Account, GraphQLClient
from tests.support.ws import (
    CAPACITY_CHANGED,
    WAIT,
    GraphQLSocket,
    SharedServer,
    open_sockets_on_workers,
    server_port,
    serving_pids,
    shared_server,
)

pytestmark = pytest.mark.e2e

MOST_BOOKINGS = 40
POOL_SIZE = 4  # 4 workers x 4 pooled connections + 4 listeners: far below max_connections
LISTENERS_SQL = """
SELECT pid FROM pg_stat_activity
WHERE datname = current_database() AND pid <> pg_backend_pid() AND query ILIKE 'LISTEN%'
"""
TERMINATE_LISTENERS_SQL = f"SELECT pid, pg_terminate_backend(pid) FROM ({LISTENERS_SQL}) AS l"
WORKERS = {"sqlite": 2, "postgresql": 4}


@pytest.fixture(scope="module")
async def sqlite_workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SharedServer]:
    folder = Path(tmp_path_factory.mktemp("live-sqlite"))
    async with shared_server(request, folder, "sqlite", WORKERS["sqlite"]) as shared:
        yield shared


@pytest.fixture(scope="module")
async def postgresql_workers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SharedServer]:
    folder = Path(tmp_path_factory.mktemp("live-postgresql"))
    workers = WORKERS["postgresql"]
    async with shared_server(
        request, folder, "postgresql", workers, db_pool_size=POOL_SIZE
    ) as shared:
        yield shared


async def live_event(client: GraphQLClient, name: str) -> dict[str, Any]:
    organizer = await client.register(organizer=True)
    return await create_event(
        client,
        organizer,
        name=name,
        capacity=100,
        ticketTypes=[{"name": "Regular", "price": "10.00", "limit": 100}],
        promoCodes=[],
    )


async def book_on_a_new_connection(
    server: RunningServer, event: dict[str, Any], buyer: Account
) -> int:
    """One seat, over a connection of its own; returns the pid of the worker that served it."""
    line = {"ticketTypeId": event["ticketTypes"][0]["id"], "quantity": 1}
    variables = {"input": {"eventId": event["id"], "items": [line]}}
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as http:
        response = await GraphQLClient(http).post(RESERVE, variables, buyer.token)
        assert outcome_of(response) == "PAID", response.text
        local_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
        [pid] = serving_pids(server.process.pid, server_port(server.base_url), [local_port])
    return pid


async def sold_everywhere(
    sockets: list[GraphQLSocket], operations: list[str], sold: int
) -> list[dict[str, Any]]:
    """Each subscriber's first state with `sold` seats sold, waiting for all of them."""
    return await asyncio.gather(
        *(
            socket.state_where(operation, lambda s: s["sold"] == sold)
            for socket, operation in zip(sockets, operations, strict=True)
        )
    )


async def subscribe_all(sockets: list[GraphQLSocket], event: dict[str, Any]) -> list[str]:
    operations = [await s.subscribe(CAPACITY_CHANGED, {"eventId": event["id"]}) for s in sockets]
    await asyncio.gather(*(s.first_state(op) for s, op in zip(sockets, operations, strict=True)))
    return operations


async def terminate_listeners(database: Database) -> set[int]:
    async with database.session() as session:
        rows = (await session.execute(text(TERMINATE_LISTENERS_SQL))).all()
        await session.commit()
    assert all(terminated for _pid, terminated in rows), rows
    return {pid for pid, _terminated in rows}


async def wait_for_listeners(
    database: Database, count: int, replacing: set[int] | None = None
) -> set[int]:
    """The pids of `count` LISTEN connections (one per worker), none of them in `replacing`."""
    replacing = replacing or set()
    deadline = time.monotonic() + WAIT
    async with database.session() as session:
        while True:
            pids = {pid for (pid,) in (await session.execute(text(LISTENERS_SQL))).all()}
            await session.rollback()
            if len(pids) == count and not pids & replacing:
                return pids
            assert time.monotonic() < deadline, f"LISTEN connections: {pids}, was {replacing}"
            await asyncio.sleep(0.05)


async def bookings_reach_subscribers_on_every_worker(live: SharedServer, workers: int) -> None:
    server, database = live.server, live.database
    async with graphql_client(server) as client:
        event = await live_event(client, f"Everywhere {workers}")
        buyers = await register_customers(client, 4)

    async with open_sockets_on_workers(server.base_url, server.process.pid, workers) as sockets:
        operations = await subscribe_all(sockets, event)
        watched = {socket.served_by for socket in sockets}
        booked_on: list[int] = []
        # Until each subscriber's worker has had a booking made by another worker.
        while not all(set(booked_on) - {pid} for pid in watched):
            assert len(booked_on) < MOST_BOOKINGS, f"bookings all landed on {set(booked_on)}"
            booked_on += await asyncio.gather(
                *(book_on_a_new_connection(server, event, buyer) for buyer in buyers)
            )
        print(f"\n{len(sockets)} subscribers on {len(watched)} workers; "
              f"{len(booked_on)} bookings on {len(set(booked_on))}")  # fmt: skip

        counts = await database.seat_counts(f"Everywhere {workers}")
        assert counts.sold == len(booked_on)
        states = await sold_everywhere(sockets, operations, counts.sold)
        assert {s["remaining"] for s in states} == {counts.capacity - counts.sold}


async def test_notify_carries_bookings_to_subscribers_on_every_postgresql_worker(
    postgresql_workers: SharedServer,
) -> None:
    await bookings_reach_subscribers_on_every_worker(postgresql_workers, WORKERS["postgresql"])


async def test_polling_carries_bookings_to_subscribers_on_every_sqlite_worker(
    sqlite_workers: SharedServer,
) -> None:
    await bookings_reach_subscribers_on_every_worker(sqlite_workers, WORKERS["sqlite"])


async def test_subscribers_hear_changes_again_after_the_listen_connection_drops(
    postgresql_workers: SharedServer,
) -> None:
    server, database = postgresql_workers.server, postgresql_workers.database
    workers = WORKERS["postgresql"]
    async with graphql_client(server) as client:
        event = await live_event(client, "Dropped")
        buyers = await register_customers(client, 2)
    listeners = await wait_for_listeners(database, workers)

    async with open_sockets_on_workers(server.base_url, server.process.pid, workers) as sockets:
        operations = await subscribe_all(sockets, event)
        sent = [len(socket.states(op)) for socket, op in zip(sockets, operations, strict=True)]

        # Nothing changes while it is gone; once back, everyone is sent the state again.
        assert await terminate_listeners(database) == listeners
        resent = await asyncio.gather(
            *(
                socket.state_where(op, lambda _s: True, after=n)
                for socket, op, n in zip(sockets, operations, sent, strict=True)
            )
        )
        assert {s["sold"] for s in resent} == {0}
        listeners = await wait_for_listeners(database, workers, replacing=listeners)
        await book_on_a_new_connection(server, event, buyers[0])
        await sold_everywhere(sockets, operations, 1)

        # A booking right after they are dropped (inside the gap, unless the listeners were
        # quicker to come back) still reaches everyone.
        assert await terminate_listeners(database) == listeners
        await book_on_a_new_connection(server, event, buyers[1])
        await sold_everywhere(sockets, operations, 2)
        await wait_for_listeners(database, workers, replacing=listeners)
