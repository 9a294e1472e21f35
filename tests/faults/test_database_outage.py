"""PostgreSQL becomes unreachable under a real `eventhub serve --workers 2`, then comes back.

The server's database URL goes through a fault proxy; a second server on the
same database talks to PostgreSQL directly, as another host would, and keeps
selling during the outage. While the fault lasts, every request to the first
server is answered 503 with `Retry-After` and the GraphQL code UNAVAILABLE,
at once once the outage is known; its log says "database unreachable" once
and "database back" once (with the number of refused requests), never a
trace. When the database returns, requests, the hold sweeper and the live
feed resume by themselves: an open subscription gets the seats sold on the
other server during the gap, whose notifications it never heard.
Each fault ends with the seat-accounting invariant.

(PostgreSQL only: SQLite is a file, it has no outage of this kind.)
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Database, RunningServer, graphql_client, outcome_of
from tests.faults.conftest import Launchers
from tests.support.factories import RESERVE, create_event
from tests.support.fault_proxy import FaultProxy
from tests.support.graphql import Account
from tests.support.ws import CAPACITY_CHANGED, GraphQLSocket, open_socket

pytestmark = pytest.mark.e2e

WORKERS = 2
SETTINGS: dict[str, str | float] = {
    "db_connect_timeout": 3,
    "db_command_timeout": 2,
    "db_pool_size": 3,
    "sweep_interval_seconds": 0.5,
}
DEADLINE = 60.0  # generous bound for anything that must happen "by itself"
AT_ONCE = 1.5  # seconds: an answer once the outage is known (well under the 3 s connect timeout)
FIRST_BOUND = 20.0  # the first request may wait the connect and command timeouts (3 + 2 s)
REQUESTS_DURING = 24
SOLD_ELSEWHERE = 3
EVENT_QUERY = "query($id: ID!) { event(id: $id) { id sold remaining } }"


@dataclass
class World:
    server: RunningServer  # through the proxy
    elsewhere: RunningServer  # straight to PostgreSQL
    organizer: Account
    buyer: Account
    event: dict[str, Any]
    ticket_id: str

    def booking(self) -> dict[str, Any]:
        tier = self.event["ticketTypes"][0]["id"]
        return {
            "input": {"eventId": self.event["id"], "items": [{"ticketTypeId": tier, "quantity": 1}]}
        }


@dataclass(frozen=True)
class Answer:
    status: int
    code: str | None
    retry_after: str | None
    seconds: float


async def until(check: Callable[[], Awaitable[bool]], what: str) -> float:
    """Seconds until `check()` holds, polled every 50 ms up to DEADLINE."""
    started = time.monotonic()
    while not await check():
        assert time.monotonic() - started < DEADLINE, f"not {what} after {DEADLINE:.0f}s"
        await asyncio.sleep(0.05)
    return time.monotonic() - started


async def arrange(launch: Launchers, proxied_url: str, pg_url: str, workers: int) -> World:
    server = await launch(proxied_url, workers=workers, **SETTINGS)
    elsewhere = await launch(pg_url, workers=1, **SETTINGS)
    async with graphql_client(server) as client:
        organizer = await client.register(organizer=True)
        event = await create_event(
            client,
            organizer,
            name="Outage",
            capacity=100,
            ticketTypes=[{"name": "Seat", "price": "10.00", "limit": 100}],
            promoCodes=[],
        )
        buyer = await client.register()
        world = World(server, elsewhere, organizer, buyer, event, "")
        booked = await client.post(RESERVE, world.booking(), buyer.token)
    assert outcome_of(booked) == "PAID"
    world.ticket_id = booked.json()["data"]["reserveTickets"]["order"]["tickets"][0]["id"]
    return world


async def ask(http: httpx.AsyncClient, world: World, index: int) -> Answer:
    """A read or a booking, alternately; what the client saw and how long it took."""
    started = time.monotonic()
    if index % 2:
        body = {"query": RESERVE, "variables": world.booking()}
        headers = {"authorization": f"Bearer {world.buyer.token}"}
    else:
        body = {"query": EVENT_QUERY, "variables": {"id": world.event["id"]}}
        headers = {}
    response = await http.post("/graphql", json=body, headers=headers)
    errors = response.json().get("errors") or [{}]
    code = (errors[0].get("extensions") or {}).get("code")
    took = time.monotonic() - started
    return Answer(response.status_code, code, response.headers.get("retry-after"), took)


async def ask_qr(http: httpx.AsyncClient, world: World) -> Answer:
    started = time.monotonic()
    headers = {"authorization": f"Bearer {world.buyer.token}"}
    response = await http.get(f"/tickets/{world.ticket_id}/qr", headers=headers)
    code = (
        response.json()["errors"][0]["extensions"]["code"] if response.status_code == 503 else None
    )
    took = time.monotonic() - started
    return Answer(response.status_code, code, response.headers.get("retry-after"), took)


async def ready(http: httpx.AsyncClient) -> bool:
    return (await http.get("/readyz")).status_code == 200


async def not_ready(http: httpx.AsyncClient) -> bool:
    return (await http.get("/readyz")).status_code == 503


def log_lines(server: RunningServer, words: str) -> list[str]:
    return [line for line in server.log().splitlines() if words in line]


async def sell_elsewhere(world: World, count: int) -> int:
    """Bookings on the server that still reaches PostgreSQL; returns the seats sold."""
    async with graphql_client(world.elsewhere) as client:
        answers = [
            await client.post(RESERVE, world.booking(), world.buyer.token) for _ in range(count)
        ]
    assert [outcome_of(answer) for answer in answers] == ["PAID"] * count
    return count


async def outage_known(http: httpx.AsyncClient) -> bool:
    response = await http.get("/readyz")
    return response.status_code == 503 and response.json()["outage"] is True


async def refused_while_down(world: World, proxy: FaultProxy) -> list[Answer]:
    """The first request meets the fault (bounded by the timeouts, never a hang); once the
    outage is known, every request is answered 503 UNAVAILABLE at once."""
    async with httpx.AsyncClient(base_url=world.server.base_url, timeout=30) as http:
        first = await ask(http, world, 0)
        assert first.seconds < FIRST_BOUND, first
        await until(lambda: outage_known(http), "an outage known to /readyz")
        answers = [first] + [await ask(http, world, i) for i in range(REQUESTS_DURING)]
        answers.append(await ask_qr(http, world))  # a route beside GraphQL
    assert proxy.mode != "pass"
    assert {(a.status, a.code, a.retry_after) for a in answers} == {(503, "UNAVAILABLE", "2")}
    slowest = max(a.seconds for a in answers[1:])
    print(
        f"{len(answers)} requests during the outage, all 503 UNAVAILABLE: the first in "
        f"{first.seconds * 1000:.0f} ms, then the slowest {slowest * 1000:.0f} ms"
    )
    assert slowest < AT_ONCE
    return answers


async def recovers(
    world: World,
    proxy: FaultProxy,
    socket: GraphQLSocket,
    operation: str,
    sold_before: int,
    refused: int,
) -> None:
    """Pass traffic again; measure until ready, until GraphQL answers, until the feed is current."""
    proxy.pass_traffic()
    restored = time.monotonic()
    async with httpx.AsyncClient(base_url=world.server.base_url, timeout=30) as http:
        to_ready = await until(lambda: ready(http), "ready again")

        async def back_line() -> bool:
            return bool(log_lines(world.server, "database back"))

        await until(back_line, "logged back")
        state = await socket.state_where(operation, lambda s: s["sold"] == sold_before, DEADLINE)
        to_live = time.monotonic() - restored

        async def graphql_answers() -> bool:
            return (await ask(http, world, 0)).status == 200

        await until(graphql_answers, "answering GraphQL")
        to_graphql = time.monotonic() - restored
    assert state["remaining"] == 100 - sold_before
    print(
        f"recovery after traffic passed again: /readyz 200 in {to_ready:.2f}s, "
        f"live feed current in {to_live:.2f}s, GraphQL 200 in {to_graphql:.2f}s"
    )
    [back] = log_lines(world.server, "database back")
    match = re.search(r"(\d+) requests refused", back)
    assert match is not None, back
    assert int(match.group(1)) == refused, back


async def books_again(world: World, socket: GraphQLSocket, operation: str, sold: int) -> int:
    async with graphql_client(world.server) as client:
        answer = await client.post(RESERVE, world.booking(), world.buyer.token)
    assert outcome_of(answer) == "PAID"
    await socket.state_where(operation, lambda s: s["sold"] == sold + 1, DEADLINE)
    return sold + 1


def assert_logged_once(server: RunningServer) -> None:
    assert len(log_lines(server, "database unreachable")) == 1, server.log()
    assert len(log_lines(server, "database back")) == 1, server.log()
    assert "Traceback" not in server.log(), server.log()


async def outage_round(
    world: World, proxy: FaultProxy, database: Database, start_fault: Callable[[], None]
) -> None:
    async with open_socket(world.server.base_url) as socket:
        operation = await socket.subscribe(CAPACITY_CHANGED, {"eventId": world.event["id"]})
        first = await socket.first_state(operation)
        start_fault()
        answers = await refused_while_down(world, proxy)
        sold = first["sold"] + await sell_elsewhere(world, SOLD_ELSEWHERE)
        await recovers(world, proxy, socket, operation, sold, len(answers))
        sold = await books_again(world, socket, operation, sold)
    assert_logged_once(world.server)
    await database.assert_consistent()
    counts = await database.seat_counts("Outage")
    assert counts.sold == counts.paid_tickets == sold


async def test_a_stopped_database_is_answered_at_once_and_everything_resumes(
    launch: Launchers, proxied_url: str, pg_url: str, db_proxy: FaultProxy, database: Database
) -> None:
    world = await arrange(launch, proxied_url, pg_url, WORKERS)

    def stop_postgres() -> None:
        db_proxy.refuse()  # new connections refused...
        db_proxy.cut()  # ...and the open ones reset, as a stopped server does

    await outage_round(world, db_proxy, database, stop_postgres)


async def test_a_stalled_database_costs_seconds_never_a_hang(
    launch: Launchers, proxied_url: str, pg_url: str, db_proxy: FaultProxy, database: Database
) -> None:
    # One worker: /readyz then speaks for the process that answers every request.
    world = await arrange(launch, proxied_url, pg_url, 1)
    await outage_round(world, db_proxy, database, db_proxy.stall)


async def test_connections_reset_by_a_fast_restart_cost_a_few_requests_and_no_outage(
    launch: Launchers, proxied_url: str, pg_url: str, db_proxy: FaultProxy, database: Database
) -> None:
    """Every pooled connection reset at once (a restart, a failover): the server reconnects;
    at most the requests already holding a dead connection fail, and no outage is declared."""
    world = await arrange(launch, proxied_url, pg_url, WORKERS)
    async with open_socket(world.server.base_url) as socket:
        operation = await socket.subscribe(CAPACITY_CHANGED, {"eventId": world.event["id"]})
        first = await socket.first_state(operation)
        assert db_proxy.cut() > 0
        async with httpx.AsyncClient(base_url=world.server.base_url, timeout=30) as http:
            answers = [await ask(http, world, i) for i in range(REQUESTS_DURING)]
        statuses = Counter(a.status for a in answers)
        print(f"after the reset: {dict(statuses)}")
        assert set(statuses) <= {200, 503}
        # A dead connection fails once and takes its pool's others with it: one per pool.
        assert statuses[503] <= WORKERS * 2
        assert [a.status for a in answers[-4:]] == [200] * 4
        booked = sum(1 for i, a in enumerate(answers) if i % 2 and a.status == 200)
        await socket.state_where(operation, lambda s: s["sold"] == first["sold"] + booked, DEADLINE)
    assert log_lines(world.server, "database unreachable") == []
    assert "Traceback" not in world.server.log(), world.server.log()
    await database.assert_consistent()
    assert (await database.seat_counts("Outage")).sold == first["sold"] + booked
