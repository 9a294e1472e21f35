"""Two separate `eventhub serve` processes (two hosts) sharing the database and Redis:
failed logins split across both lock out at the same total as on one host."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import ServerLauncher, graphql_client
from tests.support.graphql import LOGIN

pytestmark = pytest.mark.e2e
PAIR = 4


async def test_failed_logins_split_across_two_hosts_hold_in_sum(
    start_server: ServerLauncher, redis_server_url: str, redis_key_prefix: str
) -> None:
    shared = {
        "redis_url": redis_server_url,
        "redis_key_prefix": redis_key_prefix,
        "login_pair_failures": PAIR,
        "redis_timeout": 1,  # a loaded CI machine must not read as an outage here
    }
    hosts = [await start_server(**shared), await start_server(**shared)]
    async with graphql_client(hosts[0]) as first:
        owner = await first.register()
    codes = []
    for n in range(PAIR + 2):
        async with graphql_client(hosts[n % 2]) as client:
            variables = {"email": owner.email, "password": f"guess-{n}-xyz"}
            body = await client.execute(LOGIN, variables)
        if body.get("errors"):
            codes.append(body["errors"][0]["extensions"]["code"])
        else:
            codes.append(body["data"]["login"]["errors"][0]["code"])
    assert codes == ["INVALID_CREDENTIALS"] * PAIR + ["RATE_LIMITED"] * 2
