"""Limits and the login throttle through Redis: in sum across app instances, and an outage.

Needs Redis (EVENTHUB_TEST_REDIS_URL, see tests/conftest.py); every test has its
own key prefix. The two-process version is tests/e2e/test_two_hosts.py.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.auth.test_login_throttle import PAIR, attempt, client_from, running_app
from tests.support.fault_proxy import fault_proxy
from tests.support.graphql import PASSWORD, GraphQLClient

ME = {"query": "{ me { id } }"}


async def statuses(app: Any, address: str, count: int) -> list[int]:
    async with client_from(app, address) as http:
        return [(await http.post("/graphql", json=ME)).status_code for _ in range(count)]


async def test_failed_logins_split_across_two_instances_lock_out_at_the_same_total(
    database_url: str, tmp_path: Path, redis_server_url: str, redis_key_prefix: str
) -> None:
    shared = {"redis_url": redis_server_url, "redis_key_prefix": redis_key_prefix}
    async with (
        running_app(database_url, tmp_path, **shared) as one,
        running_app(database_url, tmp_path, **shared) as two,
    ):
        async with client_from(one, "198.51.100.1") as http:
            owner = await GraphQLClient(http).register()
        answers = []
        for n in range(PAIR + 1):
            async with client_from((one, two)[n % 2], "203.0.113.66") as attacker:
                answers.append(await attempt(attacker, owner.email, f"guess-{n}-xyz"))

    assert answers == ["INVALID_CREDENTIALS"] * PAIR + ["RATE_LIMITED:1"]


async def test_the_rate_limit_holds_in_sum_across_two_instances(
    database_url: str, tmp_path: Path, redis_server_url: str, redis_key_prefix: str
) -> None:
    shared = {"redis_url": redis_server_url, "redis_key_prefix": redis_key_prefix}
    async with (
        running_app(database_url, tmp_path, rate_limit="6/minute", **shared) as one,
        running_app(database_url, tmp_path, rate_limit="6/minute", **shared) as two,
    ):
        first = await statuses(one, "198.51.100.9", 3)
        second = await statuses(two, "198.51.100.9", 3)
        over = await statuses(one, "198.51.100.9", 1) + await statuses(two, "198.51.100.9", 1)

    assert first + second == [200] * 6
    assert over == [429, 429]


async def test_a_stalled_redis_degrades_to_per_process_limits_and_recovers_by_itself(
    database_url: str,
    tmp_path: Path,
    redis_server_url: str,
    redis_key_prefix: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    target = urlsplit(redis_server_url)
    with fault_proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        settings = {
            "redis_url": proxy.url_for(redis_server_url),
            "redis_key_prefix": redis_key_prefix,
            "rate_limit": "1000/minute",
        }
        async with running_app(database_url, tmp_path, **settings) as app:
            link = app.state.eventhub.redis
            async with client_from(app, "198.51.100.1") as http:
                owner = await GraphQLClient(http).register()
                before = (await http.get("/readyz")).json()
                proxy.stall()
                with caplog.at_level(logging.WARNING, logger="eventhub.redis"):
                    during = await statuses(app, "198.51.100.2", 20)
                    login = await attempt(http, owner.email, PASSWORD)
                    ready = await http.get("/readyz")
                    waited_on_redis = link.failed_calls
                    answered_locally = link.fallbacks
                    proxy.pass_traffic()
                    for _ in range(200):  # the probe pings every 0.5 s
                        if not link.down:
                            break
                        await asyncio.sleep(0.05)
                    after = (await http.get("/readyz")).json()
                    served_after = await statuses(app, "198.51.100.2", 3)

    assert before["redis"] == "ok"
    assert during == [200] * 20
    assert login == "OK"
    assert ready.status_code == 200
    assert ready.json()["redis"] == "degraded"
    assert waited_on_redis <= 2  # the calls that found the outage; the rest skipped Redis
    assert answered_locally >= 20
    assert after["redis"] == "ok"
    assert served_after == [200] * 3
    messages = [r.getMessage() for r in caplog.records if r.name == "eventhub.redis"]
    assert sum("Redis unreachable" in m for m in messages) == 1, messages
    assert sum("Redis back" in m for m in messages) == 1, messages


async def test_a_redis_that_refuses_connections_leaves_the_api_serving(
    database_url: str, tmp_path: Path, redis_key_prefix: str
) -> None:
    dead = {"redis_url": "redis://127.0.0.1:9/0", "redis_key_prefix": redis_key_prefix}
    async with running_app(database_url, tmp_path, rate_limit="5/minute", **dead) as app:
        answers = await statuses(app, "198.51.100.3", 6)
        async with client_from(app, "198.51.100.4") as http:
            ready = await http.get("/readyz")

    assert answers == [200] * 5 + [429]  # the limit still holds, per process
    assert ready.status_code == 200
    assert ready.json()["redis"] == "degraded"
