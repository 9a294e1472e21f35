"""500 customers race for 50 seats on a real 4-worker server: exactly 50 get one.

Two shapes, because each proves a different conditional update:
- tiers of 30 + 30 under a capacity of 50: the tier updates would let 60 in, so
  only the event's capacity stops the 51st buyer, and the tier seat it had
  already taken must be rolled back with it;
- tiers of 25 + 25 under a capacity of 50: each tier's own limit stops its 26th
  buyer while the event still has room for it.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.e2e.conftest import (
    Database,
    RunningServer,
    ServerLauncher,
    graphql_client,
    outcome_of,
    register_customers,
)
from tests.support.factories import RESERVE, create_event
from tests.support.graphql import Account
from tests.support.outbox_invariant import outbox_problems

pytestmark = pytest.mark.e2e

CUSTOMERS = 500
CAPACITY = 50
WORKERS = 4
# 4 workers x (5 + 10 overflow) = 60 connections: within PostgreSQL's default
# max_connections of 100. The default pool (10 + 20 overflow) does not fit: see
# test_default_pool_fits_postgres_default_max_connections.
POOL_SIZE = 5
EVENT_SEATS = """
query($id: ID!) { event(id: $id) { capacity sold remaining ticketTypes { limit sold remaining } } }
"""


async def race_for_seats(
    server: RunningServer, event: dict[str, Any], buyers: list[Account]
) -> Counter[str]:
    """Every buyer asks for one seat at the same moment, alternating between the tiers."""
    tiers = [tier["id"] for tier in event["ticketTypes"]]
    async with graphql_client(server, connections=len(buyers)) as client:

        async def book(index: int, buyer: Account) -> httpx.Response:
            line = {"ticketTypeId": tiers[index % len(tiers)], "quantity": 1}
            variables = {"input": {"eventId": event["id"], "items": [line]}}
            return await client.post(RESERVE, variables, buyer.token)

        answers = await asyncio.gather(
            *(book(i, buyer) for i, buyer in enumerate(buyers)), return_exceptions=True
        )
    return Counter(outcome_of(answer) for answer in answers)


@pytest.mark.parametrize(
    "tier_limits", [(30, 30), (25, 25)], ids=["capacity-binds", "tier-limits-bind"]
)
async def test_exactly_capacity_seats_sold_to_500_racing_customers(
    start_server: ServerLauncher, database: Database, tier_limits: tuple[int, int]
) -> None:
    server = await start_server(workers=WORKERS, db_pool_size=POOL_SIZE)
    name = f"Race {tier_limits}"
    async with graphql_client(server, connections=20) as client:
        organizer = await client.register(organizer=True)
        event = await create_event(
            client,
            organizer,
            name=name,
            capacity=CAPACITY,
            ticketTypes=[
                {"name": f"Tier {n}", "price": "10.00", "limit": limit}
                for n, limit in enumerate(tier_limits, start=1)
            ],
            promoCodes=[],
        )
        buyers = await register_customers(client, CUSTOMERS)

        started = time.perf_counter()
        outcomes = await race_for_seats(server, event, buyers)
        elapsed = time.perf_counter() - started
        print(f"\n{CUSTOMERS} buyers, tiers {tier_limits}: {dict(outcomes)} in {elapsed:.2f}s")

        assert outcomes == {"PAID": CAPACITY, "SOLD_OUT": CUSTOMERS - CAPACITY}
        seen = (await client.data(EVENT_SEATS, {"id": event["id"]}))["event"]

    assert (seen["sold"], seen["remaining"]) == (CAPACITY, 0)
    assert sum(tier["sold"] for tier in seen["ticketTypes"]) == CAPACITY
    assert all(tier["sold"] <= tier["limit"] for tier in seen["ticketTypes"])
    counts = await database.seat_counts(name)
    assert (counts.sold, counts.tier_sold, counts.live_quantity, counts.paid_tickets) == (
        CAPACITY,
        CAPACITY,
        CAPACITY,
        CAPACITY,
    )
    await database.assert_consistent()
    async with database.session() as session:  # one order.paid each, one event.sold_out
        assert await outbox_problems(session, strict_sold_out=True) == []
        await session.rollback()


@pytest.mark.parametrize("e2e_database_url", ["postgresql"], indirect=True)
async def test_default_pool_fits_postgres_default_max_connections(
    start_server: ServerLauncher, database: Database
) -> None:
    async with database.session() as session:
        max_connections = int((await session.execute(text("SHOW max_connections"))).scalar_one())
    if max_connections >= WORKERS * 30 + 10:
        pytest.skip(f"max_connections={max_connections} leaves room for every default pool")
    server = await start_server(workers=WORKERS)
    async with graphql_client(server) as client:
        organizer = await client.register(organizer=True)
        event = await create_event(
            client,
            organizer,
            capacity=CAPACITY,
            ticketTypes=[{"name": "Only", "price": "10.00", "limit": CAPACITY}],
            promoCodes=[],
        )
        buyer = await client.register()

    outcomes = await race_for_seats(server, event, [buyer] * CUSTOMERS)

    assert outcomes == {"PAID": CAPACITY, "SOLD_OUT": CUSTOMERS - CAPACITY}
