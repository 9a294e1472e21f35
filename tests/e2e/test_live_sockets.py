"""One WebSocket, many operations: what a dashboard does when its organizer switches events.

Each operation on a socket owns its database access, so completing some and
starting others never breaks the socket, however quickly it happens. Every test
runs on SQLite and PostgreSQL against one single-worker server per database.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from gql import Client, gql
from gql.transport.exceptions import TransportConnectionFailed
from gql.transport.websockets import WebsocketsTransport
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed
from websockets.typing import Subprotocol

from tests.e2e.conftest import graphql_client
from tests.support.factories import create_event, reserve
from tests.support.ws import (
    CAPACITY_CHANGED,
    SALES_UPDATED,
    GraphQLSocket,
    SharedServer,
    graphql_ws_url,
    open_socket,
    shared_server,
)

pytestmark = pytest.mark.e2e

SWITCHES = 100
BATCH = 10


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SharedServer]:
    folder = tmp_path_factory.mktemp(f"sockets-{request.param}")
    async with shared_server(request, Path(folder), request.param, workers=1) as shared:
        yield shared


async def subscribe_both(socket: GraphQLSocket, event_id: str) -> list[str]:
    on_event = {"eventId": event_id}
    return [
        await socket.subscribe(CAPACITY_CHANGED, on_event),
        await socket.subscribe(SALES_UPDATED, on_event),
    ]


def problems(socket: GraphQLSocket) -> list[dict[str, Any]]:
    """Every message that is not a state or a complete: errors, in any form."""
    return [
        r.message
        for r in socket.received
        if r.message["type"] not in ("next", "complete")
        or (r.message["type"] == "next" and r.message["payload"].get("errors"))
    ]


async def switch(socket: GraphQLSocket, leave: str, arrive: str, *, wait_for_first: bool) -> None:
    """Both feeds of `leave`, completed (at once or after their first state), then both of
    `arrive`, which must each send their first state."""
    leaving = await subscribe_both(socket, leave)
    if wait_for_first:
        for operation in leaving:
            await socket.first_state(operation)
    for operation in leaving:
        await socket.complete(operation)
    arriving = await subscribe_both(socket, arrive)
    for operation in arriving:
        state = await socket.first_state(operation)
        assert state["eventId"] == arrive
    for operation in arriving:
        await socket.complete(operation)
    assert problems(socket) == []
    assert socket.close_code is None


async def test_switching_events_never_breaks_a_socket(live: SharedServer) -> None:
    """The switch on new sockets, BATCH at a time (what many dashboards opening do),
    then SWITCHES times on one socket."""
    async with graphql_client(live.server) as client:
        organizer = await client.register(organizer=True)
        events = [
            (await create_event(client, organizer, name=f"Switch {n}"))["id"] for n in range(3)
        ]

    async def on_new_socket(n: int) -> None:
        async with open_socket(live.server.base_url, organizer.token) as socket:
            await switch(socket, events[n % 3], events[(n + 1) % 3], wait_for_first=n % 2 == 1)

    for first in range(0, SWITCHES, BATCH):
        await asyncio.gather(*(on_new_socket(n) for n in range(first, first + BATCH)))

    async with open_socket(live.server.base_url, organizer.token) as socket:
        for n in range(SWITCHES):
            await switch(socket, events[n % 3], events[(n + 1) % 3], wait_for_first=n % 2 == 1)


UPDATE_CAPACITY = """mutation($id: ID!, $input: UpdateEventInput!) {
  updateEvent(id: $id, input: $input) { errors { code message } } }"""
ADD_TIER = """mutation($eventId: ID!, $input: TicketTypeInput!) {
  addTicketType(eventId: $eventId, input: $input) { errors { code message } } }"""
ROOM = """subscription($eventId: ID!) {
  capacityChanged(eventId: $eventId) { capacity remaining ticketTypes { name limit } } }"""


async def test_capacity_edits_and_new_tiers_are_published_like_bookings(
    live: SharedServer,
) -> None:
    async with graphql_client(live.server) as client:
        organizer = await client.register(organizer=True)
        event = await create_event(client, organizer, name="Growing")
        async with open_socket(live.server.base_url) as socket:
            room = await socket.subscribe(ROOM, {"eventId": event["id"]})
            assert (await socket.first_state(room))["capacity"] == 500

            changed = await client.data(
                UPDATE_CAPACITY, {"id": event["id"], "input": {"capacity": 400}}, organizer.token
            )
            assert changed["updateEvent"]["errors"] == []
            state = await socket.state_where(room, lambda s: s["capacity"] == 400)
            assert state["remaining"] == 400

            tier = {"name": "Balcony", "price": "5.00", "limit": 20}
            added = await client.data(
                ADD_TIER, {"eventId": event["id"], "input": tier}, organizer.token
            )
            assert added["addTicketType"]["errors"] == []
            state = await socket.state_where(room, lambda s: len(s["ticketTypes"]) == 4)
            assert state["ticketTypes"][-1] == {"name": "Balcony", "limit": 20}


async def test_legacy_graphql_ws_runs_queries_and_graphql_transport_ws_is_preferred(
    live: SharedServer,
) -> None:
    """gql's default transport offers graphql-ws first: the server still picks
    graphql-transport-ws; a client offering only graphql-ws gets query results, not INTERNAL."""
    url = graphql_ws_url(live.server.base_url)
    offered = [Subprotocol("graphql-ws"), Subprotocol("graphql-transport-ws")]
    async with connect(url, subprotocols=offered, proxy=None) as both:
        assert both.subprotocol == "graphql-transport-ws"
    async with connect(url, subprotocols=[Subprotocol("graphql-ws")], proxy=None) as legacy:
        assert legacy.subprotocol == "graphql-ws"
        await legacy.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await legacy.recv())["type"] == "connection_ack"
        for operation, query in (("1", "{ __typename }"), ("2", "{ nope }")):
            start = {"id": operation, "type": "start", "payload": {"query": query}}
            await legacy.send(json.dumps(start))
        answers: dict[str, list[dict[str, Any]]] = {"1": [], "2": []}
        while sum(m["type"] in ("complete", "error") for a in answers.values() for m in a) < 2:
            message = json.loads(await asyncio.wait_for(legacy.recv(), 20))
            if message["type"] != "ka":
                answers[message["id"]].append(message)
        assert answers["1"][0] == {
            "id": "1",
            "type": "data",
            "payload": {"data": {"__typename": "Query"}},
        }
        [refused] = [m for m in answers["2"] if m["type"] == "error"]
        assert "INTERNAL" not in json.dumps(refused)
        assert "nope" in json.dumps(refused)


async def test_gql_default_websocket_transport_queries_and_subscribes(live: SharedServer) -> None:
    """Python's gql 4 with its default WebSocket transport (it offers both protocols): a
    query and a subscription with the token in `init_payload`, the subscription seeing a
    booking; a bad token is refused with 4401, which gql reports as a closed connection."""
    async with graphql_client(live.server) as client:
        organizer = await client.register(organizer=True)
        buyer = await client.register()
        event = await create_event(client, organizer, name="gql dashboard")
        url = graphql_ws_url(live.server.base_url)
        transport = WebsocketsTransport(
            url=url, init_payload={"Authorization": f"Bearer {organizer.token}"}
        )
        async with Client(transport=transport) as session:
            assert transport.subprotocol == "graphql-transport-ws"
            mine = await session.execute(gql("{ myEvents { totalCount } }"))
            assert mine == {"myEvents": {"totalCount": 1}}
            sales = gql("subscription($id: ID!) { salesUpdated(eventId: $id) { ticketsSold } }")
            sales.variable_values = {"id": event["id"]}
            feed = session.subscribe(sales)
            sold = [(await anext(feed))["salesUpdated"]["ticketsSold"]]
            await reserve(client, buyer, event, {"Regular": 3})
            while sold[-1] != 3:
                update = await asyncio.wait_for(anext(feed), 20)
                sold.append(update["salesUpdated"]["ticketsSold"])
            await feed.aclose()
        assert sold[0] == 0
        assert sold[-1] == 3

        refused = WebsocketsTransport(url=url, init_payload={"authorization": "Bearer forged"})
        with pytest.raises(TransportConnectionFailed) as failed:
            async with Client(transport=refused) as session:
                await session.execute(gql("{ __typename }"))
        closed = failed.value.__cause__
        assert isinstance(closed, ConnectionClosed)
        assert closed.rcvd is not None
        assert closed.rcvd.code == 4401


async def test_a_deleted_event_ends_its_subscriptions_with_a_clear_error(
    live: SharedServer,
) -> None:
    """Deleting an event that has watchers ends their subscriptions with FORBIDDEN (as
    subscribing to it now would be answered), and the socket goes on serving others."""
    async with graphql_client(live.server) as client:
        organizer = await client.register(organizer=True)
        doomed = await create_event(client, organizer, name="Doomed")
        kept = await create_event(client, organizer, name="Kept")
        async with open_socket(live.server.base_url, organizer.token) as socket:
            watching = await subscribe_both(socket, doomed["id"])
            for operation in watching:
                await socket.first_state(operation)
            deleted = await client.data(
                "mutation($id: ID!) { deleteEvent(id: $id) { errors { code } } }",
                {"id": doomed["id"]},
                organizer.token,
            )
            assert deleted["deleteEvent"]["errors"] == []
            for operation in watching:
                errors = await socket.ending_errors(operation)
                assert [e["extensions"]["code"] for e in errors] == ["FORBIDDEN"]
            other = await socket.subscribe(CAPACITY_CHANGED, {"eventId": kept["id"]})
            assert (await socket.first_state(other))["eventId"] == kept["id"]
            assert socket.close_code is None
