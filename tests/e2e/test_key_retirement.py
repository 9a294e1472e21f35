"""`eventhub keys rotate` and `eventhub keys retire KID` reach a running `eventhub serve`.

Two workers, keys in files (as `eventhub serve` generates them): after a rotation
every worker signs with the new key; after a retirement every worker stops
publishing the old key in ticketVerificationKeys and answers INVALID for its
tickets, within a few seconds and without a restart. Each probe opens a new
connection, so the kernel spreads them over both workers.
"""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

from tests.api.test_validate_ticket import VALIDATE, open_door
from tests.e2e.conftest import RunningServer, ServerLauncher, graphql_client, server_environment
from tests.test_ticket_keys_cli import ORDER_TOKENS, kid_of

KEYS = "{ ticketVerificationKeys }"
PROBES = 20
TAKES_EFFECT_WITHIN = 5.0  # seconds: workers re-read the keys every second
FILE_KEYS = {"ticket_signing_key": ""}  # empty: generated into .eventhub-ticket-key.pem


def keys_command(database_url: str, cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "eventhub.cli", "keys", *args],
        cwd=cwd,
        env=server_environment(database_url, **FILE_KEYS),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


async def each_worker(
    server: RunningServer, query: str, variables: dict[str, Any] | None, token: str | None
) -> list[dict[str, Any]]:
    """PROBES answers, each over a connection of its own (no keep-alive)."""
    limits = httpx.Limits(max_keepalive_connections=0)
    headers = {"authorization": f"Bearer {token}"} if token else {}
    answers = []
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as http:
        for _ in range(PROBES):
            response = await http.post(
                "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
            )
            body = response.json()
            assert "errors" not in body, body
            answers.append(body["data"])
    return answers


async def published_kids(server: RunningServer) -> list[list[str]]:
    answers = await each_worker(server, KEYS, None, None)
    return [[k["kid"] for k in json.loads(a["ticketVerificationKeys"])["keys"]] for a in answers]


async def until(check: Callable[[], Awaitable[bool]]) -> float:
    """Seconds until `check` holds (probing again and again), failing past the promise."""
    started = time.monotonic()
    while not await check():
        elapsed = time.monotonic() - started
        assert elapsed < TAKES_EFFECT_WITHIN, f"not in effect after {elapsed:.1f}s"
        await asyncio.sleep(0.2)
    return time.monotonic() - started


async def test_rotate_and_retire_reach_every_worker_without_a_restart(
    start_server: ServerLauncher, e2e_database_url: str, tmp_path: Path
) -> None:
    server = await start_server(workers=2, **FILE_KEYS)
    async with graphql_client(server, connections=10) as client:
        door = await open_door(client, seats=3)
    (first_kid,) = {kid_of(token) for token in door.tokens}
    assert await published_kids(server) == [[first_kid]] * PROBES

    said = keys_command(e2e_database_url, tmp_path, "rotate")
    match = re.search(r"new signing key ([A-Za-z0-9_-]{6})\b", said)
    assert match, said
    second_kid = match.group(1)

    async def both_published() -> bool:
        return await published_kids(server) == [[second_kid, first_kid]] * PROBES

    await until(both_published)
    orders = await each_worker(server, ORDER_TOKENS, {"id": door.order["id"]}, door.buyer.token)
    new_tokens = [t["qrToken"] for t in orders[0]["order"]["tickets"]]
    assert {kid_of(t["qrToken"]) for o in orders for t in o["order"]["tickets"]} == {second_kid}
    admitted = await each_worker(
        server, VALIDATE, {"eventId": door.event["id"], "token": door.tokens[0]}, door.staff.token
    )
    outcomes = [a["validateTicket"]["outcome"] for a in admitted]
    assert outcomes == ["VALID"] + ["ALREADY_USED"] * (PROBES - 1)  # the old key still verifies

    keys_command(e2e_database_url, tmp_path, "retire", first_kid)

    async def only_the_new_key() -> bool:
        return await published_kids(server) == [[second_kid]] * PROBES

    took = await until(only_the_new_key)
    print(f"retirement in effect on every probe after {took:.2f}s")
    retired = await each_worker(
        server, VALIDATE, {"eventId": door.event["id"], "token": door.tokens[1]}, door.staff.token
    )
    assert [a["validateTicket"]["outcome"] for a in retired] == ["INVALID"] * PROBES
    reissued = await each_worker(
        server, VALIDATE, {"eventId": door.event["id"], "token": new_tokens[1]}, door.staff.token
    )
    outcomes = [a["validateTicket"]["outcome"] for a in reissued]
    assert outcomes == ["VALID"] + ["ALREADY_USED"] * (PROBES - 1)
    assert "Traceback" not in server.log()
