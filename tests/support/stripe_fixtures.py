"""Fixtures for tests that pay through Stripe: a running fake Stripe and settings pointing at it.

A test module takes them by assignment (`settings = stripe_fixtures.settings`, and
the same for `fake_stripe` and `hold_seconds`), which replaces the default
`settings` fixture for that module only. `hold_seconds` can be parametrized per
test; the sweeper is slowed down so that only the tests decide when a hold expires.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from eventhub.settings import Settings
from tests.support.fake_stripe import FakeStripe


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
