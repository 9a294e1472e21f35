"""`eventhub keys list/rotate/retire` and `eventhub tickets export`, as an operator runs them.

Each command runs as its own process in the test's folder, where the signing
key (`.eventhub-ticket-key.pem`) and the retired keys
(`.eventhub-ticket-old-keys.pem`) live, on a SQLite database. Between
commands the app is rebuilt from the same environment and files, the way a
restarted `eventhub serve` reads them: tickets sold before a rotation keep
scanning until their key is retired.
"""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest

from eventhub.models.migrate import upgrade_database
from eventhub.settings import _new_ed25519_pem, load_settings
from tests.api.test_validate_ticket import REFUND, open_door, pk, validate
from tests.conftest import TEST_SECRET
from tests.support.factories import reserve
from tests.support.graphql import GraphQLClient

KEY_FILE = ".eventhub-ticket-key.pem"
OLD_KEYS_FILE = ".eventhub-ticket-old-keys.pem"
ORDER_TOKENS = "query($id: ID!) { order(id: $id) { tickets { qrToken } } }"
KEYS = "{ ticketVerificationKeys }"
KID = r"[A-Za-z0-9_-]{6}"  # 4 bytes, unpadded base64url


@pytest.fixture
def environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """The operator's environment: no signing key in it, so the key files are used.

    Applied to this process too, so the app built in-process reads what the commands wrote.
    """
    for name in [name for name in os.environ if name.startswith("EVENTHUB_")]:
        monkeypatch.delenv(name)
    settings = {
        "EVENTHUB_DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'eventhub.db'}",
        "EVENTHUB_SECRET_KEY": TEST_SECRET,
        "EVENTHUB_PASSWORD_HASH_TIME_COST": "1",
        "EVENTHUB_PASSWORD_HASH_MEMORY_KIB": "1024",
        "EVENTHUB_LOG_LEVEL": "WARNING",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, value)
    upgrade_database(settings["EVENTHUB_DATABASE_URL"])  # what `eventhub serve` does first
    return {**os.environ, **settings}


def eventhub(env: dict[str, str], cwd: Path, *args: str, ok: bool = True) -> str:
    """Run `eventhub ARGS` in `cwd`; its standard output (asserting exit status 0 when `ok`)."""
    done = subprocess.run(
        [sys.executable, "-m", "eventhub.cli", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if ok:
        assert done.returncode == 0, f"eventhub {' '.join(args)}:\n{done.stdout}\n{done.stderr}"
    else:
        assert done.returncode != 0, f"eventhub {' '.join(args)} succeeded:\n{done.stdout}"
    return done.stdout


def listed_keys(env: dict[str, str], cwd: Path) -> list[tuple[str, str]]:
    """`eventhub keys list` as (key id, signing | verify-only), signing key first."""
    lines = eventhub(env, cwd, "keys", "list").splitlines()
    pairs = [tuple(line.split()) for line in lines if line.strip()]
    assert all(len(pair) == 2 and re.fullmatch(KID, pair[0]) for pair in pairs), lines
    return [(pair[0], pair[1]) for pair in pairs]


@asynccontextmanager
async def restarted_app() -> AsyncIterator[GraphQLClient]:
    """The API as `eventhub serve` would build it now, from the environment and key files."""
    from eventhub.web.app import create_app

    application = create_app(load_settings())
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)


def kid_of(token: str) -> str:
    raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    return base64.urlsafe_b64encode(raw[1:5]).decode().rstrip("=")


async def jwks_kids(client: GraphQLClient) -> list[str]:
    document = json.loads((await client.data(KEYS))["ticketVerificationKeys"])
    return [key["kid"] for key in document["keys"]]


async def test_rotation_keeps_sold_tickets_scanning_until_the_old_key_is_retired(
    environment: dict[str, str], tmp_path: Path
) -> None:
    ((first_kid, role),) = listed_keys(environment, tmp_path)  # generates the key file
    assert role == "signing"
    assert (tmp_path / KEY_FILE).exists()
    assert not (tmp_path / OLD_KEYS_FILE).exists()

    async with restarted_app() as client:
        door = await open_door(client, seats=3)
        old_tokens = door.tokens
        assert {kid_of(token) for token in old_tokens} == {first_kid}

    said = eventhub(environment, tmp_path, "keys", "rotate")
    keys = listed_keys(environment, tmp_path)
    second_kid = keys[0][0]
    assert keys == [(second_kid, "signing"), (first_kid, "verify-only")]
    assert second_kid != first_kid
    assert second_kid in said

    async with restarted_app() as client:
        order = await client.data(ORDER_TOKENS, {"id": door.order["id"]}, door.buyer.token)
        new_tokens = [ticket["qrToken"] for ticket in order["order"]["tickets"]]
        assert {kid_of(token) for token in new_tokens} == {second_kid}
        assert await jwks_kids(client) == [second_kid, first_kid]
        first = await validate(client, door.event["id"], old_tokens[0], door.staff)
        assert (first["outcome"], first["ticket"]["id"]) == ("VALID", door.ticket_ids[0])

    eventhub(environment, tmp_path, "keys", "retire", "--kid", first_kid)
    assert listed_keys(environment, tmp_path) == [(second_kid, "signing")]

    async with restarted_app() as client:
        assert await jwks_kids(client) == [second_kid]
        for token in old_tokens:
            outcome = (await validate(client, door.event["id"], token, door.staff))["outcome"]
            assert outcome == "INVALID"
        reissued = await validate(client, door.event["id"], new_tokens[1], door.staff)
        assert (reissued["outcome"], reissued["ticket"]["id"]) == ("VALID", door.ticket_ids[1])
        refunded = (await reserve(client, door.buyer, door.event, {"VIP": 1}))["order"]
        refund = await client.data(REFUND, {"id": refunded["id"]}, door.organizer.token)
        assert refund["refundOrder"]["errors"] == []
        await open_door(client, seats=2)  # another event's tickets: not in this export

    export = json.loads(
        eventhub(environment, tmp_path, "tickets", "export", "--event", door.event["id"])
    )
    assert export["eventId"] == door.event["id"]
    assert [key["kid"] for key in export["keys"]["keys"]] == [second_kid]
    assert [(t["id"], t["status"]) for t in export["tickets"]] == [
        (door.ticket_ids[0], "USED"),
        (door.ticket_ids[1], "USED"),
        (door.ticket_ids[2], "VALID"),
        (refunded["tickets"][0]["id"], "VOID"),
    ]
    assert [t["checkedInAt"] is not None for t in export["tickets"]] == [True, True, False, False]
    assert [t["number"] for t in export["tickets"]] == [
        pk(t["id"], "Ticket") for t in export["tickets"]
    ]


def test_retiring_a_key_that_is_not_there_fails(
    environment: dict[str, str], tmp_path: Path
) -> None:
    """A typo (or the key still signing) must not report success while nothing is retired."""
    eventhub(environment, tmp_path, "keys", "rotate")
    before = listed_keys(environment, tmp_path)
    signing = before[0][0]
    for kid in ("AAAAAA", signing):
        eventhub(environment, tmp_path, "keys", "retire", "--kid", kid, ok=False)
        assert listed_keys(environment, tmp_path) == before


def test_rotating_a_key_from_the_environment_prints_what_to_set_and_writes_nothing(
    environment: dict[str, str], tmp_path: Path
) -> None:
    configured = {**environment, "EVENTHUB_TICKET_SIGNING_KEY": _new_ed25519_pem()}
    ((kid, _role),) = listed_keys(configured, tmp_path)
    said = eventhub(configured, tmp_path, "keys", "rotate")
    assert "EVENTHUB_TICKET_SIGNING_KEY" in said
    assert "EVENTHUB_TICKET_VERIFY_KEYS" in said
    assert said.count("-----BEGIN PRIVATE KEY-----") == 1
    assert said.count("-----BEGIN PUBLIC KEY-----") == 1
    assert not (tmp_path / KEY_FILE).exists()
    assert not (tmp_path / OLD_KEYS_FILE).exists()
    assert listed_keys(configured, tmp_path) == [(kid, "signing")]
