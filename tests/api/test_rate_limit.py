"""EVENTHUB_RATE_LIMIT: per user, per address when anonymous, 429 + RATE_LIMITED beyond it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eventhub.services.limit_storage import LimitStorage
from eventhub.web.app import create_app
from eventhub.web.rate_limit import RateLimiter
from tests.conftest import make_settings
from tests.support.graphql import GraphQLClient

ME = "{ me { id } }"
LIMIT = 5


@pytest.fixture
async def limited(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    application = create_app(make_settings(database_url, tmp_path, rate_limit=f"{LIMIT}/minute"))
    async with application.router.lifespan_context(application):
        yield application


def client_from(app: Any, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(address, 4321))
    return httpx.AsyncClient(transport=transport, base_url="http://testserver")


async def statuses(http: httpx.AsyncClient, count: int, token: str | None = None) -> list[int]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answers = [
        await http.post("/graphql", json={"query": ME}, headers=headers) for _ in range(count)
    ]
    return [answer.status_code for answer in answers]


async def test_an_anonymous_address_gets_its_allowance_then_rate_limited(limited: Any) -> None:
    async with client_from(limited, "198.51.100.1") as http:
        assert await statuses(http, LIMIT) == [200] * LIMIT
        refused = await http.post("/graphql", json={"query": ME})

    assert refused.status_code == 429
    assert int(refused.headers["retry-after"]) >= 1
    [error] = refused.json()["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert "try again" in error["message"]


async def test_each_address_has_its_own_allowance(limited: Any) -> None:
    async with client_from(limited, "198.51.100.1") as first:
        assert await statuses(first, LIMIT + 1) == [200] * LIMIT + [429]
    async with client_from(limited, "198.51.100.2") as second:
        assert await statuses(second, 1) == [200]


async def test_signed_in_users_are_counted_per_user_not_per_address(limited: Any) -> None:
    async with client_from(limited, "198.51.100.1") as http:
        client = GraphQLClient(http)
        alice = await client.register()  # requests 1 and 2 of this address
        bob = await client.register()  # 3 and 4
        assert await statuses(http, LIMIT, alice.token) == [200] * LIMIT
        assert await statuses(http, 1, alice.token) == [429]
        assert await statuses(http, LIMIT, bob.token) == [200] * LIMIT
        assert await statuses(http, 1) == [200]  # the address itself still has one left


async def test_probes_and_webhooks_are_never_limited(limited: Any) -> None:
    async with client_from(limited, "198.51.100.1") as http:
        assert await statuses(http, LIMIT + 1) == [200] * LIMIT + [429]
        health = [(await http.get("/healthz")).status_code for _ in range(LIMIT * 2)]
        webhook = await http.post("/webhooks/stripe", content=b"{}")

    assert health == [200] * (LIMIT * 2)
    assert webhook.status_code != 429


async def test_the_allowance_is_the_configured_rate_and_the_wait_is_within_its_window() -> None:
    limiter = RateLimiter("60/minute", LimitStorage(None, "test"))

    assert [await limiter.check("k") for _ in range(60)] == [None] * 60
    wait = await limiter.check("k")
    assert wait is not None
    assert 0 < wait <= 60
    assert await limiter.check("other") is None
