"""What one client address can hold on a real `eventhub serve`: sockets, subscriptions, time.

EVENTHUB_MAX_SOCKETS_PER_ADDRESS and EVENTHUB_MAX_SUBSCRIPTIONS_PER_SOCKET
bound the subscriptions one address can open in a worker to their product;
the tests count what the server accepted (first states received, the
`eventhub_subscriptions_open` gauge), with small caps so they stay quick. An
anonymous subscription ends after EVENTHUB_ANONYMOUS_SUBSCRIPTION_SECONDS
with SUBSCRIPTION_EXPIRED; a signed-in one beside it lives on.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from eventhub.settings import Settings
from tests.e2e.conftest import graphql_client
from tests.support.factories import create_event, reserve
from tests.support.ws import (
    CAPACITY_CHANGED,
    PROTOCOL,
    SALES_UPDATED,
    WAIT,
    SharedServer,
    graphql_ws_url,
    open_socket,
    shared_server,
)

pytestmark = pytest.mark.e2e

SOCKETS = 5
SUBSCRIPTIONS = 4
ATTEMPTS = 5000
LIFETIME = 2.0  # seconds an anonymous subscription lives on the short-lived server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
async def capped(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kind: str
) -> AsyncIterator[SharedServer]:
    folder = tmp_path_factory.mktemp(f"capped-{kind}")
    async with shared_server(
        request,
        Path(folder),
        kind,
        workers=1,
        max_sockets_per_address=SOCKETS,
        max_subscriptions_per_socket=SUBSCRIPTIONS,
    ) as shared:
        yield shared


@pytest.fixture(scope="module")
async def short_lived(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kind: str
) -> AsyncIterator[SharedServer]:
    folder = tmp_path_factory.mktemp(f"short-lived-{kind}")
    async with shared_server(
        request, Path(folder), kind, workers=1, anonymous_subscription_seconds=LIFETIME
    ) as shared:
        yield shared


async def public_event(live: SharedServer) -> tuple[dict[str, Any], Any]:
    async with graphql_client(live.server) as client:
        organizer = await client.register(organizer=True)
        tiers = [{"name": "Regular", "price": "10.00", "limit": 50}]
        event = await create_event(client, organizer, capacity=50, ticketTypes=tiers)
    return event, organizer


@contextlib.asynccontextmanager
async def raw_socket(live: SharedServer) -> AsyncIterator[ClientConnection]:
    async with connect(
        graphql_ws_url(live.server.base_url), subprotocols=[PROTOCOL], proxy=None
    ) as socket:
        yield socket


async def close_of(socket: ClientConnection) -> tuple[int | None, str | None]:
    with contextlib.suppress(ConnectionClosed):
        async with asyncio.timeout(WAIT):
            while True:
                await socket.recv()
    return socket.close_code, socket.close_reason


async def open_subscriptions(live: SharedServer) -> int:
    """The `eventhub_subscriptions_open` gauge, summed over fields."""
    async with httpx.AsyncClient(base_url=live.server.base_url) as http:
        text = (await http.get("/metrics")).text
    found = re.findall(r"^eventhub_subscriptions_open\{[^}]*\} (\S+)$", text, re.MULTILINE)
    return int(sum(float(value) for value in found))


async def test_a_socket_past_the_cap_per_address_is_closed_with_1013(capped: SharedServer) -> None:
    base_url = capped.server.base_url
    async with contextlib.AsyncExitStack() as stack:
        sockets = [await stack.enter_async_context(open_socket(base_url)) for _ in range(SOCKETS)]
        async with raw_socket(capped) as refused:
            assert refused.subprotocol == PROTOCOL  # accepted, so browsers see the code
            code, reason = await close_of(refused)
        assert code == 1013
        assert reason == f"at most {SOCKETS} open sockets per client address"
        await sockets[0].connection.close()
        assert await eventually_accepted(capped)  # the freed place is taken again


async def eventually_accepted(live: SharedServer) -> bool:
    """A new socket is acked once the server has let go of a closed one (it may lag a bit)."""
    async with asyncio.timeout(WAIT):
        while True:
            async with raw_socket(live) as socket:
                if await acknowledged(socket):
                    return True
            await asyncio.sleep(0.05)


async def test_a_socket_carries_at_most_its_cap_of_subscriptions(capped: SharedServer) -> None:
    event, _organizer = await public_event(capped)
    async with open_socket(capped.server.base_url) as socket:
        operations = [
            await socket.subscribe(CAPACITY_CHANGED, {"eventId": event["id"]})
            for _ in range(SUBSCRIPTIONS)
        ]
        for operation in operations:
            await socket.first_state(operation)
        extra = await socket.subscribe(CAPACITY_CHANGED, {"eventId": event["id"]})
        [error] = await socket.refusal(extra)
        assert error["message"] == "Subscription limit reached"
        await socket.complete(operations[0])
        freed = await socket.subscribe(CAPACITY_CHANGED, {"eventId": event["id"]})
        await socket.first_state(freed)


async def test_5000_anonymous_subscriptions_from_one_address_are_not_possible(
    capped: SharedServer,
) -> None:
    """An attacker opens sockets until refused and floods each with subscriptions."""
    event, _organizer = await public_event(capped)
    variables = {"eventId": event["id"]}
    before = await open_subscriptions(capped)
    async with contextlib.AsyncExitStack() as stack:
        sockets: list[ClientConnection] = []
        while len(sockets) < ATTEMPTS:
            socket = await stack.enter_async_context(raw_socket(capped))
            if not await acknowledged(socket):
                break
            sockets.append(socket)
        assert socket.close_code == 1013
        per_socket = ATTEMPTS // len(sockets)
        for socket in sockets:
            for n in range(per_socket):
                payload = {"query": CAPACITY_CHANGED, "variables": variables}
                await socket.send(
                    json.dumps({"id": str(n), "type": "subscribe", "payload": payload})
                )
        answers = await asyncio.gather(*(first_answers(s, per_socket) for s in sockets))
        served = sum(states for states, _errors in answers)
        refused = sum(errors for _states, errors in answers)
        held = await open_subscriptions(capped) - before
    assert len(sockets) == SOCKETS
    assert served == held == SOCKETS * SUBSCRIPTIONS
    assert refused == len(sockets) * per_socket - served


async def acknowledged(socket: ClientConnection) -> bool:
    """Sends connection_init; False when the server closed the socket instead of acking it."""
    try:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        async with asyncio.timeout(WAIT):
            return bool(json.loads(await socket.recv())["type"] == "connection_ack")
    except ConnectionClosed:
        return False


async def first_answers(socket: ClientConnection, count: int) -> tuple[int, int]:
    """(operations that got a state, operations refused) once each of `count` answered."""
    answered: dict[str, str] = {}
    async with asyncio.timeout(WAIT):
        while len(answered) < count:
            message = json.loads(await socket.recv())
            if message.get("type") in ("next", "error"):
                answered.setdefault(message["id"], message["type"])
    kinds = list(answered.values())
    return kinds.count("next"), kinds.count("error")


def test_the_default_caps_keep_one_address_far_below_5000_subscriptions() -> None:
    defaults = Settings.model_fields
    sockets = defaults["max_sockets_per_address"].default
    per_socket = defaults["max_subscriptions_per_socket"].default
    assert sockets * per_socket <= 1000


async def test_an_anonymous_subscription_ends_after_its_lifetime_a_signed_in_one_lives_on(
    short_lived: SharedServer,
) -> None:
    event, organizer = await public_event(short_lived)
    variables = {"eventId": event["id"]}
    base_url = short_lived.server.base_url
    async with open_socket(base_url) as anonymous, open_socket(base_url, organizer.token) as owner:
        public = await anonymous.subscribe(CAPACITY_CHANGED, variables)
        sales = await owner.subscribe(SALES_UPDATED, variables)
        await anonymous.first_state(public)
        await owner.first_state(sales)
        [error] = await anonymous.ending_errors(public)
        assert error["extensions"]["code"] == "SUBSCRIPTION_EXPIRED"
        assert f"at most {LIFETIME:g} s" in error["message"]
        async with graphql_client(short_lived.server) as client:
            buyer = await client.register()
            await reserve(client, buyer, event, {"Regular": 1})
        await owner.state_where(sales, lambda state: state["ticketsSold"] == 1)
        # The socket itself stays open: the client may subscribe again at once.
        again = await anonymous.subscribe(CAPACITY_CHANGED, variables)
        assert (await anonymous.first_state(again))["sold"] == 1
