"""Failed logins: per account from one address, per address, per account; then RATE_LIMITED.

In-memory storage here (one process); tests/auth/test_shared_limits.py runs the
same counters through Redis across two app instances.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from eventhub.auth.login_throttle import ThrottlePolicy
from eventhub.web.app import create_app
from tests.conftest import make_settings
from tests.support.graphql import LOGIN, PASSWORD, GraphQLClient

PAIR = 3


@asynccontextmanager
async def running_app(database_url: str, tmp_path: Path, **overrides: Any) -> AsyncIterator[Any]:
    values: dict[str, Any] = {
        "rate_limit": "1000000/minute",
        "login_pair_failures": PAIR,
        "login_address_failures": 100,
        "login_account_failures": 100,
    }
    values.update(overrides)
    application = create_app(make_settings(database_url, tmp_path, **values))
    async with application.router.lifespan_context(application):
        yield application


def client_from(app: Any, address: str) -> AbstractAsyncContextManager[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def attempt(http: httpx.AsyncClient, email: str, password: str) -> str:
    """INVALID_CREDENTIALS, OK, or RATE_LIMITED:<retryAfter>."""
    body = (await http.post("/graphql", json={"query": LOGIN, "variables": {
        "email": email, "password": password}})).json()  # fmt: skip
    if body.get("errors"):
        [error] = body["errors"]
        assert error["extensions"]["code"] == "RATE_LIMITED", error
        return f"RATE_LIMITED:{error['extensions']['retryAfter']}"
    errors = body["data"]["login"]["errors"]
    return errors[0]["code"] if errors else "OK"


def counting_verify(app: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    hasher = app.state.eventhub.authenticator.hasher
    calls = [0]
    real = hasher._verify_sync

    def counted(password_hash: str, password: str) -> bool:
        calls[0] += 1
        return bool(real(password_hash, password))

    monkeypatch.setattr(hasher, "_verify_sync", counted)
    return lambda: calls[0]


def test_backoff_doubles_after_the_threshold_and_stops_at_the_lockout_window() -> None:
    policy = ThrottlePolicy(lockout_seconds=900)
    waits = [policy.lock_seconds(n, 5) for n in range(1, 17)]
    assert waits == [0, 0, 0, 0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 900, 900]


async def test_one_address_guessing_one_account_is_refused_but_the_owner_elsewhere_is_not(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_app(database_url, tmp_path) as app:
        verified = counting_verify(app, monkeypatch)
        async with client_from(app, "198.51.100.1") as owner_http:
            owner = await GraphQLClient(owner_http).register()
        async with client_from(app, "203.0.113.66") as attacker:
            guesses = [await attempt(attacker, owner.email, f"guess-{n}-xyz") for n in range(PAIR)]
            hashed_before = verified()
            refused = await attempt(attacker, owner.email, PASSWORD)  # even the right one
            also_refused = await attempt(attacker, owner.email, "guess-again-xyz")
            hashed_after = verified()
        async with client_from(app, "198.51.100.1") as owner_http:
            owner_login = await attempt(owner_http, owner.email, PASSWORD)

    assert guesses == ["INVALID_CREDENTIALS"] * PAIR
    assert refused == also_refused == "RATE_LIMITED:1"
    assert hashed_after == hashed_before  # a refused attempt costs no argon2
    assert owner_login == "OK"


async def test_one_address_spraying_many_accounts_is_refused(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        running_app(database_url, tmp_path, login_address_failures=4) as app,
        client_from(app, "203.0.113.66") as attacker,
    ):
        answers = [
            await attempt(attacker, f"victim{n}@example.com", "guess-xyz-1") for n in range(5)
        ]
    assert answers == ["INVALID_CREDENTIALS"] * 4 + ["RATE_LIMITED:1"]


async def test_many_addresses_lock_the_account_for_at_most_the_lockout_window(
    database_url: str, tmp_path: Path
) -> None:
    async with running_app(database_url, tmp_path, login_account_failures=4,
                           login_lockout_seconds=1) as app:  # fmt: skip
        async with client_from(app, "198.51.100.1") as owner_http:
            owner = await GraphQLClient(owner_http).register()
        for n in range(4):
            async with client_from(app, f"203.0.113.{n + 1}") as bot:
                assert await attempt(bot, owner.email, "guess-xyz-1") == "INVALID_CREDENTIALS"
        async with client_from(app, "198.51.100.1") as owner_http:
            locked = await attempt(owner_http, owner.email, PASSWORD)
            await asyncio.sleep(int(locked.split(":")[1]) + 0.05)  # the wait the server named
            after_the_window = await attempt(owner_http, owner.email, PASSWORD)

    assert locked == "RATE_LIMITED:1"
    assert after_the_window == "OK"


async def test_a_success_clears_the_accounts_failures(database_url: str, tmp_path: Path) -> None:
    async with running_app(database_url, tmp_path) as app, client_from(app, "198.51.100.1") as http:
        owner = await GraphQLClient(http).register()
        first = [await attempt(http, owner.email, "typo-typo-1") for _ in range(PAIR - 1)]
        ok = await attempt(http, owner.email, PASSWORD)
        second = [await attempt(http, owner.email, "typo-typo-1") for _ in range(PAIR - 1)]
        ok_again = await attempt(http, owner.email, PASSWORD)

    assert first == second == ["INVALID_CREDENTIALS"] * (PAIR - 1)
    assert ok == ok_again == "OK"
