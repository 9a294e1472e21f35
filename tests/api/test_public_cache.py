"""The public-read response cache: anonymous catalogue reads served from memory, never stale
past a change this worker commits, never for a signed-in request (both databases).

Across workers (the NOTIFY path) see tests/e2e/test_public_cache_workers.py.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

import eventhub.web.app as app_module
from eventhub.web.response_cache import HEADER, ResponseCache
from tests.support.factories import create_event, reserve
from tests.support.graphql import GraphQLClient

LISTING = """{ events(first: 20) { edges { node { id name startsAt remaining
  ticketTypes { id name price { amount currency } remaining } } } } }"""
UPDATE = """mutation($id: ID!, $input: UpdateEventInput!) { updateEvent(id: $id, input: $input) {
  errors { code } } }"""
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { order { status } errors { code } } }"
REFUND = """mutation($id: ID!) { refundOrder(id: $id, reason: "ill") {
  order { status } errors { code } } }"""
ORGANIZER_EMAIL = "{ events(first: 5) { edges { node { organizer { email } } } } }"


@pytest.fixture(autouse=True)
def long_lived_entries(monkeypatch: pytest.MonkeyPatch) -> None:
    """On SQLite answers are kept at most the poll interval (1 s): long enough for these
    tests on a quiet machine, not on a busy one. Only a change may drop them here."""
    monkeypatch.setattr(app_module, "SQLITE_POLL_SECONDS", 60.0)


async def anonymous(client: GraphQLClient, query: str = LISTING) -> tuple[dict[str, Any], str]:
    response = await client.post(query)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert not body.get("errors"), body
    return body["data"], response.headers.get(HEADER, "")


def numbers(data: dict[str, Any]) -> dict[str, Any]:
    """{event name: (remaining, {tier name: remaining})}."""
    return {
        edge["node"]["name"]: (
            edge["node"]["remaining"],
            {t["name"]: t["remaining"] for t in edge["node"]["ticketTypes"]},
        )
        for edge in data["events"]["edges"]
    }


async def fresh(client: GraphQLClient, token: str) -> dict[str, Any]:
    """The same listing for a signed-in viewer: never from the cache."""
    response = await client.post(LISTING, token=token)
    assert HEADER not in response.headers
    return numbers(response.json()["data"])


async def cached(client: GraphQLClient, query: str = LISTING) -> dict[str, Any]:
    """The answer once it is served from memory, and still is 0.3 s later. On PostgreSQL our
    own NOTIFY comes back a few ms after the mutation answered and drops the cache once
    more: read until two hits in a row, so no late NOTIFY is still on its way."""
    deadline = time.monotonic() + 10
    hits = 0
    while hits < 2:
        data, served = await anonymous(client, query)
        hits = hits + 1 if served == "hit" else 0
        assert time.monotonic() < deadline, "never served from the cache"
        await asyncio.sleep(0.3 if hits else 0.02)
    return data


async def expect_fresh(client: GraphQLClient, token: str, remaining: int, regular: int) -> None:
    """The anonymous listing, right after a change: read anew, and equal to a signed-in read."""
    data, served = await anonymous(client)
    assert served == "miss"
    assert numbers(data)["Conf"][0] == remaining
    assert numbers(data)["Conf"][1]["Regular"] == regular
    assert numbers(data) == await fresh(client, token)
    assert await cached(client) == data


async def test_each_change_drops_the_cached_listing_before_the_mutation_answers(
    client: GraphQLClient,
) -> None:
    organizer = await client.register(organizer=True)
    buyer = await client.register()
    event = await create_event(client, organizer, name="Conf")  # tiers 100 + 300 + 50
    first, served = await anonymous(client)
    assert served == "miss"
    assert numbers(first)["Conf"] == (450, {"Early Bird": 100, "Regular": 300, "VIP": 50})
    assert await cached(client) == first

    booked = await reserve(client, buyer, event, {"Regular": 2})
    assert booked["errors"] == []
    assert booked["order"]["status"] == "PAID"
    await expect_fresh(client, organizer.token, 448, 298)

    other = await reserve(client, buyer, event, {"Regular": 3})
    await expect_fresh(client, organizer.token, 445, 295)

    edit = {"id": event["id"], "input": {"capacity": 105}}
    assert (await client.data(UPDATE, edit, organizer.token))["updateEvent"]["errors"] == []
    await expect_fresh(client, organizer.token, 100, 295)  # min(105 - 5, tier room)

    cancelled = await client.data(CANCEL, {"id": booked["order"]["id"]}, buyer.token)
    assert cancelled["cancelOrder"]["order"]["status"] in ("CANCELLED", "REFUNDED")
    await expect_fresh(client, organizer.token, 102, 297)

    refunded = await client.data(REFUND, {"id": other["order"]["id"]}, organizer.token)
    assert refunded["refundOrder"]["order"]["status"] == "REFUNDED"
    await expect_fresh(client, organizer.token, 105, 300)


async def test_publishing_shows_the_new_event_at_once(client: GraphQLClient) -> None:
    organizer = await client.register(organizer=True)
    await create_event(client, organizer, name="Conf")
    await cached(client)
    await create_event(client, organizer, name="Later")  # created, then published
    data, served = await anonymous(client)
    assert served == "miss"
    assert set(numbers(data)) == {"Conf", "Later"}


async def test_only_anonymous_public_reads_use_the_cache(
    client: GraphQLClient, session: AsyncSession
) -> None:
    """A change made behind the app's back (no signal) shows which requests were served
    from memory: only the anonymous catalogue read is."""
    organizer = await client.register(organizer=True)
    await create_event(client, organizer, name="Conf")
    await cached(client)
    cached_email = await cached(client, ORGANIZER_EMAIL)
    assert cached_email["events"]["edges"][0]["node"]["organizer"] is not None
    await session.execute(text("UPDATE ticket_types SET sold = sold + 7"))
    await session.commit()

    stale, served = await anonymous(client)
    assert served == "hit"
    assert numbers(stale)["Conf"][1]["Regular"] == 300
    assert (await fresh(client, organizer.token))["Conf"][1]["Regular"] == 293

    # The organizer's own email is theirs to see: a signed-in request never gets the
    # anonymous answer, whatever the document.
    response = await client.post(ORGANIZER_EMAIL, token=organizer.token)
    assert HEADER not in response.headers
    [edge] = response.json()["data"]["events"]["edges"]
    assert edge["node"]["organizer"]["email"] == organizer.email
    assert cached_email["events"]["edges"][0]["node"]["organizer"]["email"] != organizer.email

    # Even anonymous, a document that reaches beyond the catalogue is run every time.
    for query in (
        LISTING.replace("{ events(", "{ me { id } events(", 1),
        "query { ...Root } fragment Root on Query { events(first: 1) { totalCount } }",
        "{ ticketVerificationKeys }",
    ):
        for _ in range(2):
            response = await client.post(query)
            assert response.status_code == 200, query
            assert HEADER not in response.headers, query

    # An anonymous answer with errors is not kept.
    for _ in range(2):
        response = await client.post('{ event(id: "nonsense") { id } nope }')
        assert HEADER not in response.headers
    # Variables are part of the key.
    query = "query($n: Int) { events(first: $n) { edges { node { name } } } }"
    one = await client.http.post("/graphql", json={"query": query, "variables": {"n": 1}})
    two = await client.http.post("/graphql", json={"query": query, "variables": {"n": 2}})
    assert (one.headers[HEADER], two.headers[HEADER]) == ("miss", "miss")
    assert len(one.json()["data"]["events"]["edges"]) == 1


def test_an_answer_read_before_a_change_is_not_kept() -> None:
    cache = ResponseCache(60, 2)
    started = cache.generation
    cache.invalidate(1)  # a change lands while the read runs
    assert not cache.put("k", started, b"old")
    assert cache.get("k") is None
    assert cache.put("k", cache.generation, b"new")
    assert cache.get("k") == b"new"
    cache.put("a", cache.generation, b"a")
    cache.put("b", cache.generation, b"b")
    assert len(cache) == 2
    assert cache.get("k") is None
    cache.invalidate(None)  # the LISTEN connection came back: everything goes
    assert len(cache) == 0


def test_entries_expire(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [1000.0]
    monkeypatch.setattr("eventhub.web.response_cache.time.monotonic", lambda: now[0])
    cache = ResponseCache(5, 10)
    cache.put("k", cache.generation, b"x")
    now[0] += 4.9
    assert cache.get("k") == b"x"
    now[0] += 0.2
    assert cache.get("k") is None
