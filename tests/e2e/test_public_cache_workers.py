"""The public-read cache across workers: a change made through one worker drops the cached
listing there before its mutation answers, and on the other worker by the change signal.

`eventhub serve --workers 2` on each database, answers kept 120 s. For each change
(a booking, a capacity edit, a cancellation, a refund): both workers first serve the
anonymous listing from memory; then the change goes through one worker, whose next
answer must already show it; the other worker must show it within 2 s. On PostgreSQL
only the NOTIFY can do that (its entries would live 120 s); on SQLite, which cannot
signal another process, no entry lives longer than the live feed's poll (1 s).
Which worker holds each connection is read from /proc (tests/support/ws.py).
"""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import RunningServer, ServerLauncher, graphql_client
from tests.support.factories import create_event
from tests.support.graphql import Account
from tests.support.ws import server_port, serving_pids, wait_for_every_worker

pytestmark = pytest.mark.e2e

WORKERS = 2
LISTING = """{ events(first: 20) { edges { node { name remaining
  ticketTypes { name remaining } } } } }"""
UPDATE = """mutation($id: ID!, $input: UpdateEventInput!) { updateEvent(id: $id, input: $input) {
  errors { code } } }"""
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { order { status } errors { code } } }"
REFUND = """mutation($id: ID!) { refundOrder(id: $id, reason: "ill") {
  order { status } errors { code } } }"""
RESERVE = """mutation($input: ReserveTicketsInput!) { reserveTickets(input: $input) {
  order { id status } errors { code } } }"""
HEADER = "x-eventhub-cache"


class Workers:
    """Requests on fresh connections, each answered with the pid of the worker that served it."""

    def __init__(self, server: RunningServer) -> None:
        self.server = server
        self.port = server_port(server.base_url)

    async def post(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> tuple[int, httpx.Response]:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        async with httpx.AsyncClient(base_url=self.server.base_url, timeout=30) as http:
            response = await http.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
            local_port = response.extensions["network_stream"].get_extra_info("client_addr")[1]
            [pid] = serving_pids(self.server.process.pid, self.port, [local_port])
        assert response.status_code == 200, response.text
        assert not response.json().get("errors"), response.text
        return pid, response

    async def listing(self, token: str | None = None) -> tuple[int, str, Any]:
        pid, response = await self.post(LISTING, token=token)
        return pid, response.headers.get(HEADER, ""), response.json()["data"]

    async def cached_on_every_worker(self) -> None:
        hits: set[int] = set()
        deadline = time.monotonic() + 60
        while len(hits) < WORKERS:
            assert time.monotonic() < deadline, f"hits only on {hits}"
            pid, served, _ = await self.listing()
            if served == "hit":
                hits.add(pid)

    async def change_shows_everywhere(self, changed_on: int, truth: Any) -> None:
        """The changing worker's first answer is already right; the other's within 2 s."""
        first: dict[int, Any] = {}
        right_at: dict[int, float] = {}
        started = time.monotonic()
        while len(right_at) < WORKERS:
            assert time.monotonic() - started < 2.0, (
                f"still stale after 2 s on {set(first) - set(right_at)}: {first}"
            )
            pid, _, data = await self.listing()
            first.setdefault(pid, data)
            if data == truth:
                right_at.setdefault(pid, time.monotonic() - started)
        assert first[changed_on] == truth, "the worker that made the change answered stale"


async def test_a_change_drops_the_cached_listing_on_every_worker(
    start_server: ServerLauncher,
) -> None:
    server = await start_server(workers=WORKERS, public_cache_seconds=120, db_pool_size=3)
    await wait_for_every_worker(server.base_url, server.process.pid, WORKERS)
    workers = Workers(server)
    async with graphql_client(server, connections=4) as client:
        organizer = await client.register(organizer=True)
        buyer = await client.register()
        event = await create_event(client, organizer, name="Conf")

    async def truth() -> Any:
        return (await workers.listing(organizer.token))[2]

    async def through_a_worker(
        query: str, variables: dict[str, Any], who: Account
    ) -> tuple[int, dict[str, Any]]:
        pid, response = await workers.post(query, variables, who.token)
        (payload,) = response.json()["data"].values()
        assert payload["errors"] == [], payload
        return pid, payload

    lines = [{"ticketTypeId": event["ticketTypes"][1]["id"], "quantity": 2}]
    book = {"input": {"eventId": event["id"], "items": lines}}
    order_ids: list[str] = []
    for change in ("booking", "booking", "capacity", "cancel", "refund"):
        await workers.cached_on_every_worker()
        if change == "booking":
            pid, payload = await through_a_worker(RESERVE, book, buyer)
            order_ids.append(payload["order"]["id"])
        elif change == "capacity":
            edit = {"id": event["id"], "input": {"capacity": 200}}
            pid, _ = await through_a_worker(UPDATE, edit, organizer)
        elif change == "cancel":
            pid, _ = await through_a_worker(CANCEL, {"id": order_ids[0]}, buyer)
        else:
            pid, _ = await through_a_worker(REFUND, {"id": order_ids[1]}, organizer)
        await workers.change_shows_everywhere(pid, await truth())

    final = (await truth())["events"]["edges"][0]["node"]
    assert final["remaining"] == 200  # everything booked was given back; capacity 200
