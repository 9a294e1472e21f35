"""Live subscriptions on a real server: who may subscribe, and what subscribers are sent.

`capacityChanged` is public for published events; `salesUpdated` is for the
event's organizer (and admins). Subscribers get the current state first, then
at most one message per 100 ms while things change, the last one always the
stored final state; a rolled-back booking sends nothing. Every test runs on
SQLite and on PostgreSQL against one single-worker server per database,
shared by the module's tests, each on events of its own
(tests/e2e/test_live_across_workers.py covers several workers). The few
fixed waits below prove that something is NOT sent; each comes after or
before a change that must arrive, so a dead subscription cannot pass them.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from collections import Counter
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from eventhub.auth.access_tokens import AccessTokenCodec
from eventhub.global_ids import decode_id
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import Database, graphql_client, outcome_of, register_customers
from tests.support.factories import RESERVE, create_event, reserve
from tests.support.graphql import Account, GraphQLClient
from tests.support.ws import (
    CAPACITY_CHANGED,
    SALES_UPDATED,
    SharedServer,
    SocketClosed,
    open_socket,
    refused_at_init,
    shared_server,
)

pytestmark = pytest.mark.e2e

BURST = 200
COALESCE_SECONDS = 0.1
QUIET_SECONDS = 0.5  # five coalescing intervals: a message that is coming has come by then
SQLITE_POLL_SECONDS = 1.0  # eventhub/web/app.py polls this often on SQLite
TOKEN_SECONDS = 5  # long enough to see a booking arrive first, even on a busy machine

VALIDATE = """
mutation($eventId: ID!, $token: String!) {
  validateTicket(eventId: $eventId, token: $token) { outcome }
}"""
REFUND = "mutation($id: ID!) { refundOrder(id: $id) { order { status } errors { code } } }"
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { order { status } errors { code } } }"
STORED_CAPACITY = """
SELECT e.capacity, e.sold, t.name, t.seat_limit, t.sold AS tier_sold
FROM events e JOIN ticket_types t ON t.event_id = e.id WHERE e.name = :name
"""
STORED_SALES = """
SELECT
  (SELECT COUNT(*) FROM tickets k JOIN orders o ON o.id = k.order_id
    WHERE o.event_id = e.id AND o.status = 'PAID' AND k.status <> 'VOID') AS tickets_sold,
  (SELECT COUNT(*) FROM tickets k WHERE k.event_id = e.id AND k.status = 'USED') AS checked_in,
  (SELECT COALESCE(SUM(o.total_minor), 0) FROM orders o
    WHERE o.event_id = e.id AND o.status = 'PAID') AS net_minor
FROM events e WHERE e.name = :name
"""


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SharedServer]:
    """One single-worker server per database for the whole module."""
    folder = tmp_path_factory.mktemp(f"live-{request.param}")
    async with shared_server(request, Path(folder), request.param, workers=1) as shared:
        yield shared


# --- what subscribers see, and what is stored -----------------------------------------------------


def seen_capacity(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "sold": state["sold"],
        "remaining": state["remaining"],
        "tiers": {t["name"]: (t["limit"], t["sold"], t["remaining"]) for t in state["ticketTypes"]},
    }


async def stored_capacity(database: Database, event_name: str) -> dict[str, Any]:
    """The capacity numbers as the database holds them, in `seen_capacity`'s shape."""
    async with database.session() as session:
        rows = (await session.execute(text(STORED_CAPACITY), {"name": event_name})).all()
        await session.rollback()
    capacity, sold = rows[0].capacity, rows[0].sold
    tiers = {r.name: (r.seat_limit, r.tier_sold, max(r.seat_limit - r.tier_sold, 0)) for r in rows}
    room = sum(remaining for _limit, _sold, remaining in tiers.values())
    return {"sold": sold, "remaining": max(min(capacity - sold, room), 0), "tiers": tiers}


SALES_MONEY = """subscription($eventId: ID!) { salesUpdated(eventId: $eventId) {
  grossRevenue { amount } refunds { amount } discounts { amount } } }"""
CAPACITY_ROOM = """subscription($eventId: ID!) {
  capacityChanged(eventId: $eventId) { capacity sold remaining } }"""


def seen_sales(state: dict[str, Any]) -> dict[str, Any]:
    return {
        "ticketsSold": state["ticketsSold"],
        "checkedIn": state["checkedIn"],
        "netRevenue": state["netRevenue"]["amount"],
    }


async def stored_sales(database: Database, event_name: str) -> dict[str, Any]:
    async with database.session() as session:
        row = (await session.execute(text(STORED_SALES), {"name": event_name})).one()
        await session.rollback()
    return {
        "ticketsSold": row.tickets_sold,
        "checkedIn": row.checked_in,
        "netRevenue": f"{row.net_minor / 100:.2f}",
    }


def server_time(state: dict[str, Any]) -> float:
    """When the server read the state it sent (the `at` field), as epoch seconds."""
    return datetime.fromisoformat(state["at"]).timestamp()


def short_lived_token(account: Account, ttl_seconds: int) -> str:
    """A token signed like the server's own, expiring `ttl_seconds` from now (or ago).

    EVENTHUB_ACCESS_TOKEN_TTL cannot go below 10 s; minting with the server's
    codec and test secret gives the same token with a shorter life.
    """
    user_id = decode_id(account.id, "User")
    assert user_id is not None
    token, _expires = AccessTokenCodec(TEST_SECRET, ttl_seconds).issue(
        user_id, frozenset(account.roles)
    )
    return token


async def one_tier_event(
    client: GraphQLClient, organizer: Account, name: str, seats: int, **overrides: Any
) -> dict[str, Any]:
    return await create_event(
        client,
        organizer,
        name=name,
        capacity=seats,
        ticketTypes=[{"name": "Regular", "price": "10.00", "limit": seats}],
        promoCodes=[],
        **overrides,
    )


async def book_at_once(
    client: GraphQLClient, event: dict[str, Any], buyers: list[Account]
) -> Counter[str]:
    """One one-seat booking per buyer, all sent at the same moment."""
    line = {"ticketTypeId": event["ticketTypes"][0]["id"], "quantity": 1}
    variables = {"input": {"eventId": event["id"], "items": [line]}}

    async def book(buyer: Account) -> httpx.Response:
        return await client.post(RESERVE, variables, buyer.token)

    answers = await asyncio.gather(*(book(b) for b in buyers), return_exceptions=True)
    return Counter(outcome_of(answer) for answer in answers)


# --- who may subscribe --------------------------------------------------------------------------


async def test_subscribers_are_checked_and_refused_with_a_clear_error(
    live: SharedServer,
) -> None:
    server, database = live.server, live.database
    async with graphql_client(server) as client:
        organizer = await client.register(organizer=True)
        other_organizer = await client.register(organizer=True)
        customer = await client.register()
        event = await create_event(client, organizer, name="Gated")
        draft = await create_event(client, organizer, name="Draft", publish=False)
        await reserve(client, customer, event, {"Regular": 2, "VIP": 1})
    on_event = {"eventId": event["id"]}
    expired = short_lived_token(organizer, -60)

    async with open_socket(server.base_url) as anonymous:
        public = await anonymous.subscribe(CAPACITY_CHANGED, on_event)
        first = await anonymous.first_state(public)
        assert seen_capacity(first) == await stored_capacity(database, "Gated")
        assert first["sold"] == 3

        hidden = await anonymous.subscribe(CAPACITY_CHANGED, {"eventId": draft["id"]})
        [error] = await anonymous.refusal(hidden)
        assert error["extensions"]["code"] == "FORBIDDEN"
        assert "not public" in error["message"]

        sales = await anonymous.subscribe(SALES_UPDATED, on_event)
        [error] = await anonymous.refusal(sales)
        assert (error["extensions"]["code"], error["message"]) == (
            "UNAUTHENTICATED",
            "sign in to do this",
        )
        assert anonymous.close_code is None  # a refused operation leaves the connection usable

    for token, reason in ((expired, "access token has expired"), ("not-a-jwt", "invalid")):
        code, why = await refused_at_init(server.base_url, token)  # never served as anonymous
        assert code == 4401
        assert why is not None
        assert reason in why

    refusals = [
        (customer.token, "FORBIDDEN", "requires the role ADMIN or ORGANIZER"),
        (other_organizer.token, "FORBIDDEN", "only the event's organizer sees its sales"),
    ]
    for token, code, message in refusals:
        async with open_socket(server.base_url, token) as socket:
            [error] = await socket.refusal(await socket.subscribe(SALES_UPDATED, on_event))
            assert (error["extensions"]["code"], error["message"]) == (code, message)

    async with open_socket(server.base_url, organizer.token) as owner:
        first_sales = await owner.first_state(await owner.subscribe(SALES_UPDATED, on_event))
        assert seen_sales(first_sales) == await stored_sales(database, "Gated")
        assert seen_sales(first_sales) == {
            "ticketsSold": 3,
            "checkedIn": 0,
            "netRevenue": "1397.00",
        }


async def test_the_socket_is_closed_with_4403_when_its_token_expires(
    live: SharedServer,
) -> None:
    """graphql-ws clients reconnect after 4403 (with a fresh token from their
    connectionParams) and subscribe again: the subscription itself must not end with
    an error or `complete` first, which would tell them it is over."""
    server = live.server
    async with graphql_client(server) as client:
        organizer = await client.register(organizer=True)
        buyer = await client.register()
        event = await create_event(client, organizer, name="Expiring")
        token = short_lived_token(organizer, TOKEN_SECONDS)
        expires_at = float(AccessTokenCodec(TEST_SECRET, 60).decode(token).expires_at)

        async with open_socket(server.base_url, token) as socket:
            sales = await socket.subscribe(SALES_UPDATED, {"eventId": event["id"]})
            await socket.first_state(sales)
            await reserve(client, buyer, event, {"VIP": 1})
            await socket.state_where(sales, lambda s: s["ticketsSold"] == 1)  # alive until then

            with pytest.raises(SocketClosed):
                await socket.wait_until(lambda: False, within=expires_at - time.time() + 10)
            closed_at = time.time()
            assert socket.close_code == 4403
            assert expires_at - 0.1 <= closed_at <= expires_at + 3.0
            assert [r.message["type"] for r in socket.messages(sales)] == ["next"] * len(
                socket.states(sales)
            )
            assert all(server_time(s) < expires_at for s in socket.states(sales))


# --- what subscribers are sent -------------------------------------------------------------------


async def test_nothing_is_sent_after_the_first_state_until_something_changes(
    live: SharedServer,
) -> None:
    server = live.server
    async with graphql_client(server) as client:
        organizer = await client.register(organizer=True)
        buyer = await client.register()
        event = await one_tier_event(client, organizer, "Quiet", 10)
        on_event = {"eventId": event["id"]}

        async with open_socket(server.base_url) as early, open_socket(server.base_url) as late:
            watching = await early.subscribe(CAPACITY_CHANGED, on_event)
            await early.first_state(watching)
            joining = await late.subscribe(CAPACITY_CHANGED, on_event)
            await late.first_state(joining)
            await asyncio.sleep(SQLITE_POLL_SECONDS + QUIET_SECONDS)  # a poll finds nothing new

            await reserve(client, buyer, event, {"Regular": 1})
            for socket, operation in ((early, watching), (late, joining)):
                await socket.state_where(operation, lambda s: s["sold"] == 1)
                assert [s["sold"] for s in socket.states(operation)] == [0, 1]


async def test_a_burst_of_bookings_is_coalesced_and_ends_on_the_stored_state(
    live: SharedServer,
) -> None:
    server, database = live.server, live.database
    async with graphql_client(server, connections=BURST) as client:
        organizer = await client.register(organizer=True)
        event = await one_tier_event(client, organizer, "Burst", 1000)
        buyers = await register_customers(client, 20)
        on_event = {"eventId": event["id"]}

        async with (
            open_socket(server.base_url) as public,
            open_socket(server.base_url, organizer.token) as owner,
        ):
            capacity = await public.subscribe(CAPACITY_CHANGED, on_event)
            sales = await owner.subscribe(SALES_UPDATED, on_event)
            await public.first_state(capacity)
            await owner.first_state(sales)

            started = time.monotonic()
            outcomes = await book_at_once(client, event, [buyers[n % 20] for n in range(BURST)])
            burst_seconds = time.monotonic() - started
            assert outcomes == {"PAID": BURST}

            final_capacity = await stored_capacity(database, "Burst")
            final_sales = await stored_sales(database, "Burst")
            assert (final_capacity["sold"], final_sales["ticketsSold"]) == (BURST, BURST)
            await public.state_where(capacity, lambda s: seen_capacity(s) == final_capacity)
            await owner.state_where(sales, lambda s: seen_sales(s) == final_sales)
            await asyncio.sleep(QUIET_SECONDS)  # nothing (stale) may follow the final state

        capacity_states, sales_states = public.states(capacity), owner.states(sales)
        reads = [
            round(server_time(s) - server_time(capacity_states[0]), 2) for s in capacity_states
        ]
        print(f"\n{BURST} bookings in {burst_seconds:.2f}s: {len(capacity_states)} capacity and "
              f"{len(sales_states)} sales messages; capacity read at {reads}")  # fmt: skip
        assert seen_capacity(capacity_states[-1]) == final_capacity
        assert seen_sales(sales_states[-1]) == final_sales
        for states in (capacity_states, sales_states):
            assert len(states) <= 2 + burst_seconds / COALESCE_SECONDS
            assert len(states) < BURST // 2, f"{len(states)} messages for {BURST} bookings"
            sold = [int(s["sold"] if "sold" in s else s["ticketsSold"]) for s in states]
            assert sold == sorted(sold), f"an older state came after a newer one: {sold}"
            # After the first (the state at subscription), one message per 100 ms at most;
            # `at` is when the server read each state, so client-side jitter does not count.
            reads = [server_time(s) for s in states[1:]]
            gaps = [later - earlier for earlier, later in itertools.pairwise(reads)]
            assert min(gaps, default=COALESCE_SECONDS) >= COALESCE_SECONDS - 0.005, gaps


async def test_a_rolled_back_booking_sends_nothing(live: SharedServer) -> None:
    """Capacity binds before the tier does, so SOLD_OUT rolls back a tier update it made."""
    server, database = live.server, live.database
    async with graphql_client(server) as client:
        organizer = await client.register(organizer=True)
        buyer = await client.register()
        event = await create_event(
            client,
            organizer,
            name="Rollback",
            capacity=3,
            ticketTypes=[
                {"name": "Floor", "price": "10.00", "limit": 3},
                {"name": "Balcony", "price": "10.00", "limit": 3},
            ],
            promoCodes=[],
        )
        async with open_socket(server.base_url) as socket:
            capacity = await socket.subscribe(CAPACITY_CHANGED, {"eventId": event["id"]})
            await socket.first_state(capacity)
            order = (await reserve(client, buyer, event, {"Floor": 3}))["order"]
            await socket.state_where(capacity, lambda s: s["remaining"] == 0)
            await socket.settled(QUIET_SECONDS)
            sent_before = len(socket.states(capacity))

            refused = await reserve(client, buyer, event, {"Balcony": 1})
            assert [e["code"] for e in refused["errors"]] == ["SOLD_OUT"]
            await asyncio.sleep(QUIET_SECONDS)
            assert len(socket.states(capacity)) == sent_before, socket.states(capacity)

            cancelled = (await client.data(CANCEL, {"id": order["id"]}, buyer.token))["cancelOrder"]
            assert cancelled["errors"] == []
            after = await socket.state_where(capacity, lambda s: s["sold"] == 0, after=sent_before)
            assert socket.states(capacity)[sent_before] == after  # the first since SOLD_OUT
            assert seen_capacity(after) == await stored_capacity(database, "Rollback")
            assert seen_capacity(after)["tiers"]["Balcony"] == (3, 0, 3)


TIERS_IF = """
subscription($eventId: ID!, $tiers: Boolean!) {
  capacityChanged(eventId: $eventId) { sold ticketTypes @include(if: $tiers) { sold } }
}"""
REMAINING_ONLY = "subscription($id: ID!) { capacityChanged(eventId: $id) { remaining } }"


async def test_subscribers_of_one_state_each_get_their_own_operations_answer(
    live: SharedServer,
) -> None:
    """A state's payload text is encoded once per operation and variables, then shared
    (web/graphql_transport_ws.py): each subscriber must still get what its own operation
    selects, under its own operation id."""
    async with graphql_client(live.server) as client:
        organizer = await client.register(organizer=True)
        buyer = await client.register()
        event = await one_tier_event(client, organizer, "Shared texts", 10)
        eid = event["id"]
        with_tiers = {"sold", "ticketTypes"}
        full = {"eventId", "sold", "remaining", "at", "ticketTypes"}
        async with (
            open_socket(live.server.base_url) as one,
            open_socket(live.server.base_url) as two,
        ):
            expected = [
                (one, await one.subscribe(TIERS_IF, {"eventId": eid, "tiers": True}), with_tiers),
                (one, await one.subscribe(TIERS_IF, {"eventId": eid, "tiers": False}), {"sold"}),
                (two, await two.subscribe(TIERS_IF, {"eventId": eid, "tiers": True}), with_tiers),
                (two, await two.subscribe(REMAINING_ONLY, {"id": eid}), {"remaining"}),
                (two, await two.subscribe(CAPACITY_CHANGED, {"eventId": eid}), full),
            ]
            for socket, operation, _keys in expected:
                await socket.first_state(operation)
            await reserve(client, buyer, event, {"Regular": 2})

            for socket, operation, keys in expected:
                await socket.state_where(
                    operation, lambda s: s.get("remaining", 8) == 8 and s.get("sold", 2) == 2
                )
                assert all(r.message["id"] == operation for r in socket.messages(operation))
                states = socket.states(operation)
                assert [set(state) for state in states] == [keys] * len(states), states
                if "ticketTypes" in keys:
                    assert states[-1]["ticketTypes"][0]["sold"] == 2
            ids = [operation for socket, operation, _keys in expected if socket is one]
            assert len(one.received) == sum(len(one.messages(op)) for op in ids)


async def test_check_in_and_refund_change_what_sales_subscribers_see(
    live: SharedServer,
) -> None:
    server, database = live.server, live.database
    async with graphql_client(server) as client:
        organizer = await client.register(organizer=True)
        buyer = await client.register()
        event = await create_event(client, organizer, name="Door")
        regular = (await reserve(client, buyer, event, {"Regular": 2}))["order"]
        vip = (await reserve(client, buyer, event, {"VIP": 1}))["order"]
        on_event = {"eventId": event["id"]}

        async with (
            open_socket(server.base_url, organizer.token) as owner,
            open_socket(server.base_url) as public,
        ):
            sales = await owner.subscribe(SALES_UPDATED, on_event)
            capacity = await public.subscribe(CAPACITY_CHANGED, on_event)
            first = seen_sales(await owner.first_state(sales))
            assert first == {"ticketsSold": 3, "checkedIn": 0, "netRevenue": "1397.00"}
            await public.first_state(capacity)

            scan = {"eventId": event["id"], "token": vip["tickets"][0]["qrToken"]}
            admitted = (await client.data(VALIDATE, scan, organizer.token))["validateTicket"]
            assert admitted["outcome"] == "VALID"
            checked_in = await owner.state_where(sales, lambda s: s["checkedIn"] == 1)
            assert seen_sales(checked_in) == {
                "ticketsSold": 3,
                "checkedIn": 1,
                "netRevenue": "1397.00",
            }

            refunded = await client.data(REFUND, {"id": regular["id"]}, organizer.token)
            assert refunded["refundOrder"]["order"]["status"] == "REFUNDED"
            after = await owner.state_where(sales, lambda s: s["ticketsSold"] == 1)
            assert seen_sales(after) == {"ticketsSold": 1, "checkedIn": 1, "netRevenue": "599.00"}
            assert seen_sales(after) == await stored_sales(database, "Door")
            seats = await public.state_where(capacity, lambda s: s["sold"] == 1)
            assert seen_capacity(seats)["tiers"]["Regular"] == (300, 0, 300)
            assert seen_capacity(seats) == await stored_capacity(database, "Door")

            money = await owner.first_state(await owner.subscribe(SALES_MONEY, on_event))
            assert {key: value["amount"] for key, value in money.items()} == {
                "grossRevenue": "1397.00",
                "refunds": "798.00",
                "discounts": "0.00",
            }
            room = await public.first_state(await public.subscribe(CAPACITY_ROOM, on_event))
            assert room == {"capacity": 500, "sold": 1, "remaining": 449}  # tiers: 100 + 300 + 49
