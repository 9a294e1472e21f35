"""Fixtures for tests that pay through Stripe: a running fake Stripe and settings pointing at it.

A test module takes them by assignment (`settings = stripe_fixtures.settings`, and
the same for `fake_stripe` and `hold_seconds`), which replaces the default
`settings` fixture for that module only. `hold_seconds` can be parametrized per
test; the sweeper is slowed down so that only the tests decide when a hold expires.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventhub.settings import Settings
from tests.support.factories import reserve
from tests.support.fake_stripe import FakeStripe, intent_id
from tests.support.graphql import Account, GraphQLClient


@pytest.fixture
def fake_stripe() -> Iterator[FakeStripe]:
    fake = FakeStripe()
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def hold_seconds() -> int:
    return 600


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, fake_stripe: FakeStripe, hold_seconds: int
) -> Settings:
    return fake_stripe.settings(
        database_url, tmp_path, hold_seconds=hold_seconds, sweep_interval_seconds=3600
    )


async def hold(client: GraphQLClient, event: dict[str, Any]) -> tuple[Account, str, str]:
    """(buyer, order id, PaymentIntent id) of a new PENDING order for both seats."""
    buyer = await client.register()
    order = (await reserve(client, buyer, event, {"GA": 2}))["order"]
    assert order["status"] == "PENDING"
    return buyer, order["id"], intent_id(order["payment"]["clientSecret"])
