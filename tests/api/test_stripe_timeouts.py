"""A Stripe that never answers costs a reservation a bounded number of short attempts.

`EVENTHUB_STRIPE_TIMEOUT` bounds each attempt and the SDK retries at most twice, so a
reservation gives up after about three timeouts (not three times the SDK's 80 s) and
gives its seats back. The fake Stripe records every attempt it receives and answers
none of them; the test counts attempts rather than timing them. Both databases.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from eventhub.settings import Settings
from tests.support import stripe_fixtures
from tests.support.factories import create_event, reserve
from tests.support.fake_stripe import FakeStripe
from tests.support.graphql import GraphQLClient
from tests.support.invariant import invariant_problems

fake_stripe = stripe_fixtures.fake_stripe
MY_ORDERS = "{ myOrders { edges { node { status event { sold } } } } }"
TIMEOUT = 1.0  # s per attempt, small so the test is quick


@pytest.fixture
def settings(database_url: str, tmp_path: Path, fake_stripe: FakeStripe) -> Settings:
    return fake_stripe.settings(
        database_url, tmp_path, stripe_timeout=TIMEOUT, sweep_interval_seconds=3600
    )


async def new_event(client: GraphQLClient) -> dict[str, Any]:
    organizer = await client.register(organizer=True)
    tiers = [{"name": "GA", "price": "25.00", "limit": 2}]
    return await create_event(client, organizer, capacity=2, promoCodes=[], ticketTypes=tiers)


def test_the_timeout_is_configurable_and_defaults_to_ten_seconds(
    settings: Settings, database_url: str, tmp_path: Path, fake_stripe: FakeStripe
) -> None:
    assert settings.stripe_timeout == TIMEOUT
    assert fake_stripe.settings(database_url, tmp_path).stripe_timeout == 10.0


async def test_a_hanging_stripe_fails_the_reservation_after_three_attempts_and_frees_seats(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    event = await new_event(client)
    buyer = await client.register()
    fake_stripe.hang("create_intent")

    started = time.monotonic()
    payload = await reserve(client, buyer, event, {"GA": 2})
    waited = time.monotonic() - started

    assert payload["order"] is None
    assert [e["code"] for e in payload["errors"]] == ["PAYMENT_FAILED"]
    attempts = fake_stripe.calls("create_intent")
    assert len(attempts) == 3  # the first call and the SDK's two retries, no more
    assert len({a.idempotency_key for a in attempts}) == 1  # a retry can never charge twice
    assert waited < 20  # a guard only: unbounded, this would be 3 x 80 s
    [edge] = (await client.data(MY_ORDERS, token=buyer.token))["myOrders"]["edges"]
    assert edge["node"] == {"status": "CANCELLED", "event": {"sold": 0}}
    async with app.state.eventhub.session_factory() as session:
        assert await invariant_problems(session) == []
        await session.rollback()

    fake_stripe.clear_failures()  # Stripe answers again: the seats can be taken
    assert (await reserve(client, buyer, event, {"GA": 2}))["order"]["status"] == "PENDING"
