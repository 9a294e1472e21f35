"""A deploy: SIGTERM to `eventhub serve --workers 2` while buyers book and a socket is open.

Kubernetes sends SIGTERM to the server (PID 1 of its container) once it has
stopped routing new requests to it. What was in flight must finish: every
booking sent before the signal gets its real answer (none is cut off), the
open subscription is closed with 1012 (service restart, so graphql-ws clients
reconnect to another host), the process exits 0, and the seats sold are
exactly those of the bookings answered PAID. Both databases.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections import Counter
from dataclasses import dataclass, field

import httpx
import pytest

from tests.e2e.conftest import (
    Database,
    RunningServer,
    graphql_client,
    outcome_of,
    register_customers,
)
from tests.faults.conftest import Launchers
from tests.support.factories import RESERVE, create_event
from tests.support.graphql import Account
from tests.support.ws import CAPACITY_CHANGED, WAIT, open_socket

pytestmark = pytest.mark.e2e

WORKERS = 2
BUYERS = 16
CAPACITY = 400
SIGNAL_AFTER_ANSWERS = 24
EXIT_WAIT = 60.0


@dataclass
class Load:
    """Buyers booking one seat at a time, each request on a new connection, until told to stop."""

    server: RunningServer
    event_id: str
    tier_id: str
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    enough: asyncio.Event = field(default_factory=asyncio.Event)
    outcomes: list[str] = field(default_factory=list)
    answered_after_signal: int = 0
    signalled_at: float | None = None

    async def buyer(self, account: Account) -> None:
        limits = httpx.Limits(max_keepalive_connections=0)  # a new connection per booking
        variables = {
            "input": {
                "eventId": self.event_id,
                "items": [{"ticketTypeId": self.tier_id, "quantity": 1}],
            }
        }
        headers = {"authorization": f"Bearer {account.token}"}
        async with httpx.AsyncClient(
            base_url=self.server.base_url, limits=limits, timeout=60
        ) as http:
            while (
                not self.stopping.is_set()
            ):  # the load balancer sends no new request after SIGTERM
                try:
                    response = await http.post(
                        "/graphql", json={"query": RESERVE, "variables": variables}, headers=headers
                    )
                    outcome = outcome_of(response)
                except httpx.HTTPError as error:
                    outcome = f"cut off: {type(error).__name__}"
                self.outcomes.append(outcome)
                if self.signalled_at is not None:
                    self.answered_after_signal += 1
                if len(self.outcomes) >= SIGNAL_AFTER_ANSWERS:
                    self.enough.set()


async def test_sigterm_finishes_bookings_in_flight_closes_sockets_with_1012_and_exits_0(
    launch: Launchers, e2e_database_url: str
) -> None:
    database = Database(e2e_database_url)
    server = await launch(e2e_database_url, workers=WORKERS)
    async with graphql_client(server) as client:
        organizer = await client.register(organizer=True)
        event = await create_event(
            client, organizer, name="Deploy", capacity=CAPACITY,
            ticketTypes=[{"name": "Seat", "price": "10.00", "limit": CAPACITY}], promoCodes=[],
        )  # fmt: skip
        buyers = await register_customers(client, BUYERS)
    load = Load(server, event["id"], event["ticketTypes"][0]["id"])

    async with open_socket(server.base_url) as socket:
        operation = await socket.subscribe(CAPACITY_CHANGED, {"eventId": event["id"]})
        await socket.first_state(operation)
        buyers_running = asyncio.gather(*(load.buyer(account) for account in buyers))
        await asyncio.wait_for(load.enough.wait(), WAIT)
        load.stopping.set()
        load.signalled_at = time.monotonic()
        server.process.send_signal(signal.SIGTERM)  # to the supervisor, as Kubernetes does
        await asyncio.wait_for(buyers_running, EXIT_WAIT)
        await asyncio.wait_for(socket.connection.wait_closed(), WAIT)
        close_code = socket.close_code
    exit_code = await asyncio.to_thread(server.process.wait, EXIT_WAIT)
    assert load.signalled_at is not None
    stopped_in = time.monotonic() - load.signalled_at

    outcomes = Counter(load.outcomes)
    print(
        f"\nbookings: {dict(outcomes)}; answered after SIGTERM: {load.answered_after_signal}; "
        f"exited {exit_code} {stopped_in:.2f}s after SIGTERM"
    )
    assert set(outcomes) <= {"PAID"}, outcomes  # no booking cut off, none refused
    assert load.answered_after_signal > 0, "nothing was in flight when SIGTERM arrived"
    assert close_code == 1012
    assert exit_code == 0, server.log()
    assert "Traceback" not in server.log(), server.log()
    await database.assert_consistent()
    assert (await database.seat_counts("Deploy")).sold == outcomes["PAID"]
