"""The hold sweeper through a database outage: quiet while the gate is shut, sweeping after.

The app's sweeper task runs every 0.2 s (tests' settings). While the database
gate is shut every round fails with DatabaseUnavailable: nothing is logged
(the gate logs the outage once) and nothing is released; once it opens, the
next round releases the overdue hold by itself.
"""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path
from typing import Any

import pytest

from eventhub.settings import Settings
from tests.services.test_reconciliation import held, order_of
from tests.support import stripe_fixtures
from tests.support.fake_stripe import FakeStripe
from tests.support.graphql import GraphQLClient

fake_stripe = stripe_fixtures.fake_stripe
hold_seconds = stripe_fixtures.hold_seconds
DEADLINE = 30.0


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, fake_stripe: FakeStripe, hold_seconds: int
) -> Settings:
    """Stripe leaves orders PENDING; the app's own sweeper runs every 0.2 s."""
    return fake_stripe.settings(
        database_url, tmp_path, hold_seconds=hold_seconds, sweep_interval_seconds=0.2
    )


@pytest.mark.parametrize("hold_seconds", [1])
async def test_the_sweeper_waits_out_an_outage_quietly_and_then_releases_the_hold(
    app: Any,
    client: GraphQLClient,
    fake_stripe: FakeStripe,
    hold_seconds: int,
    caplog: pytest.LogCaptureFixture,
) -> None:
    buyer, order_id, _intent, _number = await held(client)
    gate = app.state.eventhub.gate
    caplog.set_level(logging.INFO, logger="eventhub.sweeper")
    gate.down = True  # as the probe does when the database stops answering
    failed_rounds = 0
    original = gate.check

    def counting_check() -> None:
        nonlocal failed_rounds
        if gate.down:
            failed_rounds += 1
        original()

    gate.check = counting_check
    app.state.eventhub.clock.advance(hold_seconds)  # the hold is overdue while the gate is shut
    started = time.monotonic()
    while failed_rounds < 3:  # a few sweeper rounds meet the shut gate
        assert time.monotonic() - started < DEADLINE
        await asyncio.sleep(0.05)
    assert not [r for r in caplog.records if r.name == "eventhub.sweeper"]
    assert not [r for r in caplog.records if "released" in r.getMessage()]
    gate.down = False
    started = time.monotonic()
    while (await order_of(client, order_id, buyer))["status"] != "EXPIRED":
        assert time.monotonic() - started < DEADLINE, "the hold was never released"
        await asyncio.sleep(0.05)
    assert any("released" in r.getMessage() for r in caplog.records)
