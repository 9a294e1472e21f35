"""SIGKILL the whole server while bookings are in flight: no seat is lost or half-sold.

A power cut lands between the statements of some booking transactions. After
each restart on the same database every seat must be in exactly one place: in
a live order (with one valid ticket per seat when PAID) or back on sale; every
booking a buyer was told is PAID must still be PAID; and once the last restart
is past the hold time, exactly the seats left can still be sold, and no more.

With the default offline provider orders are PAID at once, so no hold is left
for the sweeper; the server runs with a 3 s hold and a 0.5 s sweep anyway, so
that the same test covers holds once a provider leaves orders PENDING.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import (
    Database,
    RunningServer,
    ServerLauncher,
    graphql_client,
    outcome_of,
    register_customers,
)
from tests.support.factories import RESERVE, create_event
from tests.support.graphql import Account, GraphQLClient

pytestmark = pytest.mark.e2e

HOLD_SECONDS = 3
SERVER_SETTINGS: dict[str, str | float] = {
    "hold_seconds": HOLD_SECONDS,
    "sweep_interval_seconds": 0.5,
}
WORKERS = 2
CAPACITY = 200
TIER_LIMITS = (CAPACITY, CAPACITY)  # only the event's capacity binds: the arithmetic stays exact
CRASHES = 3
BUYERS_PER_ROUND = 100
KILL_AFTER_ANSWERS = 15
EVENT_SEATS = "query($id: ID!) { event(id: $id) { capacity sold remaining } }"
ORDER = "query($id: ID!) { order(id: $id) { status tickets { status } } }"


@dataclass(frozen=True)
class Acknowledged:
    """A booking the buyer was told is PAID, before the crash."""

    buyer: Account
    order_id: str
    seats: int


def booking_lines(index: int, tiers: list[str]) -> list[dict[str, Any]]:
    """One seat, two seats, or one seat in each tier: a kill can land in any of them."""
    if index % 3 == 0:
        return [{"ticketTypeId": tiers[0], "quantity": 1}]
    if index % 3 == 1:
        return [{"ticketTypeId": tiers[1], "quantity": 2}]
    return [{"ticketTypeId": tier, "quantity": 1} for tier in tiers]


async def book_until_killed(
    server: RunningServer, event: dict[str, Any], buyers: list[Account]
) -> tuple[Counter[str], list[Acknowledged]]:
    """Every buyer books at once; the server is SIGKILLed after the first few answers."""
    tiers = [tier["id"] for tier in event["ticketTypes"]]
    answered = 0
    enough = asyncio.Event()
    async with graphql_client(server, connections=len(buyers), request_timeout=30) as client:

        async def book(index: int, buyer: Account) -> httpx.Response:
            nonlocal answered
            variables = {"input": {"eventId": event["id"], "items": booking_lines(index, tiers)}}
            try:
                return await client.post(RESERVE, variables, buyer.token)
            finally:
                answered += 1
                if answered >= KILL_AFTER_ANSWERS:
                    enough.set()

        bookings = asyncio.gather(
            *(book(i, buyer) for i, buyer in enumerate(buyers)), return_exceptions=True
        )
        await asyncio.wait_for(enough.wait(), timeout=60)
        server.kill()
        answers = await bookings

    acknowledged = []
    for buyer, answer in zip(buyers, answers, strict=True):
        if isinstance(answer, httpx.Response) and outcome_of(answer) == "PAID":
            order = answer.json()["data"]["reserveTickets"]["order"]
            acknowledged.append(Acknowledged(buyer, order["id"], len(order["tickets"])))
    return Counter(outcome_of(answer) for answer in answers), acknowledged


async def assert_still_paid(client: GraphQLClient, acknowledged: list[Acknowledged]) -> None:
    """What a buyer was told survives the crash: the order is PAID with all its tickets."""
    gate = asyncio.Semaphore(20)

    async def look_up(booking: Acknowledged) -> tuple[str, int]:
        async with gate:
            data = await client.data(ORDER, {"id": booking.order_id}, booking.buyer.token)
        order = data["order"]
        valid = [t for t in order["tickets"] if t["status"] == "VALID"]
        return order["status"], len(valid)

    seen = await asyncio.gather(*(look_up(booking) for booking in acknowledged))
    assert seen == [("PAID", booking.seats) for booking in acknowledged]


async def test_a_killed_server_loses_no_seat_and_sells_no_seat_twice(
    start_server: ServerLauncher, database: Database
) -> None:
    server = await start_server(workers=WORKERS, **SERVER_SETTINGS)
    name = "Crash test"
    async with graphql_client(server) as client:
        organizer = await client.register(organizer=True)
        event = await create_event(
            client,
            organizer,
            name=name,
            capacity=CAPACITY,
            ticketTypes=[
                {"name": f"Tier {n}", "price": "10.00", "limit": limit}
                for n, limit in enumerate(TIER_LIMITS, start=1)
            ],
            promoCodes=[],
        )
        buyers = await register_customers(client, CRASHES * BUYERS_PER_ROUND)
        late_buyer = await client.register()

    tiers = [tier["id"] for tier in event["ticketTypes"]]
    acknowledged: list[Acknowledged] = []
    for crash in range(CRASHES):
        round_buyers = buyers[crash * BUYERS_PER_ROUND : (crash + 1) * BUYERS_PER_ROUND]
        outcomes, paid = await book_until_killed(server, event, round_buyers)
        acknowledged += paid
        print(f"\ncrash {crash + 1}: {dict(outcomes)}")
        cut_off_kinds = [o for o in outcomes if o.startswith("exception")]
        assert cut_off_kinds, "every booking finished before the kill: nothing was in flight"
        unexpected = [o for o in outcomes if o not in ("PAID", "SOLD_OUT", *cut_off_kinds)]
        assert unexpected == [], outcomes

        server = await start_server(workers=WORKERS, **SERVER_SETTINGS)
        await database.assert_consistent()

    await asyncio.sleep(HOLD_SECONDS + 1)  # any hold left by the crashes is past due and swept
    await database.assert_consistent()
    counts = await database.seat_counts(name)
    assert counts.sold == counts.tier_sold == counts.live_quantity == counts.paid_tickets
    acknowledged_seats = sum(booking.seats for booking in acknowledged)
    print(f"sold {counts.sold} seats after the crashes; buyers were told of {acknowledged_seats}")
    assert counts.sold >= acknowledged_seats

    async with graphql_client(server) as client:
        await assert_still_paid(client, acknowledged)
        seen = (await client.data(EVENT_SEATS, {"id": event["id"]}))["event"]
        assert seen["sold"] == counts.sold
        assert seen["remaining"] == CAPACITY - counts.sold

        # The seats no one holds are back on sale: exactly that many more can be sold.
        left = seen["remaining"]
        one_seat = {"input": {"eventId": event["id"], "items": booking_lines(0, tiers)}}
        late = await asyncio.gather(
            *(client.post(RESERVE, one_seat, late_buyer.token) for _ in range(left + 10))
        )
        assert Counter(outcome_of(answer) for answer in late) == Counter(PAID=left, SOLD_OUT=10)
        final = (await client.data(EVENT_SEATS, {"id": event["id"]}))["event"]
    assert (final["sold"], final["remaining"]) == (CAPACITY, 0)
    await database.assert_consistent()
