"""Failures leave as clear, coded errors; oversized queries are refused before they run."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eventhub.resolvers import accounts
from eventhub.settings import Settings
from eventhub.web.app import create_app
from tests.conftest import make_settings
from tests.support.accounts import top_level_code
from tests.support.graphql import LOGIN, PASSWORD, GraphQLClient

SECRET = "db-password=hunter2"
# Depth counts every field: myOrders > edges > node > event > id is 5 deep.
DEPTH_5 = "{ myOrders { edges { node { event { id } } } } }"
DEPTH_6 = "{ myOrders { edges { node { event { organizer { id } } } } } }"
DEPTH_6_IN_FRAGMENTS = """
query { ...Orders }
fragment Orders on Query { myOrders { edges { node { ...Buyer } } } }
fragment Buyer on Order { event { organizer { id } } }"""
# Each order's tickets (10 guessed) each load an event with its tiers: far over 1000 at 100.
EXPENSIVE = """query($n: Int) {
  myOrders(first: $n) { edges { node { tickets { event { ticketTypes { id } } } } } }
}"""


def no_trace(text: str) -> None:
    for leak in (SECRET, "Traceback", 'File "', "RuntimeError", "stacktrace"):
        assert leak not in text, f"{leak!r} leaked into the response: {text[:500]}"


def register_variables(email: str) -> dict[str, Any]:
    return {"input": {"email": email, "password": PASSWORD, "name": "N"}}


async def nobody_registered(client: GraphQLClient, email: str) -> bool:
    login = (await client.data(LOGIN, {"email": email, "password": PASSWORD}))["login"]
    return login["accessToken"] is None


# --- unexpected failures ----------------------------------------------------------------------


async def test_an_unexpected_exception_is_masked_as_internal_and_logged(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    account = await client.register()

    async def broken(ctx: Any) -> None:
        raise RuntimeError(f"connection failed: {SECRET}")

    monkeypatch.setattr(accounts, "me", broken)
    with caplog.at_level(logging.ERROR):
        response = await client.post("{ me { id } events { totalCount } }", token=account.token)
    assert response.status_code == 200
    no_trace(response.text)
    body = response.json()
    assert [e["extensions"]["code"] for e in body["errors"]] == ["INTERNAL"]
    assert body["errors"][0]["path"] == ["me"]
    assert body["data"] == {"me": None, "events": {"totalCount": 0}}  # the rest still answers
    # The operators still see what happened, server side.
    logged = [r for r in caplog.records if r.exc_info and SECRET in str(r.exc_info[1])]
    assert logged, "the masked exception was not logged"


# --- malformed requests -----------------------------------------------------------------------


JSON = {"content-type": "application/json"}
MALFORMED = {
    "broken JSON": {"content": b'{"query": "{ me ', "headers": JSON},
    "no query": {"json": {"variables": {}}},
    "null query": {"json": {"query": None}},
    "variables not an object": {"json": {"query": "{ __typename }", "variables": "x"}},
    "an empty JSON list": {"json": []},
    "plain text": {"content": b"{ __typename }", "headers": {"content-type": "text/plain"}},
}


@pytest.mark.parametrize("request_kwargs", MALFORMED.values(), ids=MALFORMED)
async def test_a_malformed_request_is_a_clear_4xx(
    client: GraphQLClient, request_kwargs: dict[str, Any]
) -> None:
    response = await client.http.post("/graphql", **request_kwargs)
    assert 400 <= response.status_code < 500, (response.status_code, response.text)
    assert response.text.strip()
    no_trace(response.text)


INVALID_DOCUMENTS = {
    "syntax error": ("{ me { ", {}),
    "unknown field": ("{ nope }", {}),
    "wrong variable type": (
        "query($n: Int!) { events(first: $n) { totalCount } }",
        {"n": "many"},
    ),
    "missing variable": ("query($n: Int!) { events(first: $n) { totalCount } }", {}),
}


@pytest.mark.parametrize(("query", "variables"), INVALID_DOCUMENTS.values(), ids=INVALID_DOCUMENTS)
async def test_an_invalid_document_is_bad_user_input(
    client: GraphQLClient, query: str, variables: dict[str, Any]
) -> None:
    response = await client.post(query, variables)
    assert response.status_code in (200, 400)
    body = response.json()
    assert top_level_code(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["message"]
    assert body.get("data") is None


async def test_a_subscription_over_plain_http_is_refused_as_bad_input(
    client: GraphQLClient,
) -> None:
    organizer = await client.register(organizer=True)
    query = 'subscription { capacityChanged(eventId: "x") { eventId } }'
    response = await client.post(query, token=organizer.token)
    if response.status_code != 200:
        assert 400 <= response.status_code < 500
        return
    assert top_level_code(response.json()) == "BAD_USER_INPUT"


# --- GET ----------------------------------------------------------------------------------------


async def test_get_runs_queries_but_never_mutations(client: GraphQLClient) -> None:
    account = await client.register()
    headers = {"accept": "application/json", "authorization": f"Bearer {account.token}"}
    query = await client.http.get("/graphql", params={"query": "{ me { email } }"}, headers=headers)
    assert query.status_code == 200
    assert query.json() == {"data": {"me": {"email": account.email}}}

    mutation = """mutation($input: RegisterInput!) { register(input: $input) { user { id } } }"""
    params = {"query": mutation, "variables": json.dumps(register_variables("get@example.com"))}
    refused = await client.http.get("/graphql", params=params, headers=headers)
    assert refused.status_code in (400, 405), refused.text
    assert "mutation" in refused.text.lower()
    no_trace(refused.text)
    assert await nobody_registered(client, "get@example.com")


# --- limits -----------------------------------------------------------------------------------


@pytest.fixture
async def tight_client(database_url: str, tmp_path: Path) -> AsyncIterator[GraphQLClient]:
    """An app with EVENTHUB_MAX_QUERY_DEPTH=5.

    The schema has no cycles, so no valid query reaches the default limit of 10;
    the mechanism is tested against a lower one.
    """
    application = create_app(make_settings(database_url, tmp_path, max_query_depth=5))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.7", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield GraphQLClient(http)


def test_the_default_depth_limit_is_ten() -> None:
    assert Settings(_env_file=None).max_query_depth == 10


async def test_a_query_deeper_than_the_limit_is_refused_fragments_included(
    tight_client: GraphQLClient,
) -> None:
    account = await tight_client.register()
    assert (await tight_client.data(DEPTH_5, token=account.token))["myOrders"]["edges"] == []
    for query in (DEPTH_6, DEPTH_6_IN_FRAGMENTS):
        body = await tight_client.execute(query, token=account.token)
        assert top_level_code(body) == "QUERY_TOO_COMPLEX"
        assert "depth" in body["errors"][0]["message"]
        assert body.get("data") is None


async def test_an_over_limit_mutation_is_refused_before_any_of_it_runs(
    tight_client: GraphQLClient,
) -> None:
    shallow = "mutation($input: RegisterInput!) { register(input: $input) { user { id } } }"
    deep = (
        "mutation($input: RegisterInput!) { register(input: $input) { user { id } } "
        'reserveTickets(input: {eventId: "x", items: []}) '
        "{ order { tickets { event { organizer { id } } } } } }"
    )
    body = await tight_client.execute(deep, register_variables("never@example.com"))
    assert top_level_code(body) == "QUERY_TOO_COMPLEX"
    assert await nobody_registered(tight_client, "never@example.com")
    done = await tight_client.data(shallow, register_variables("once@example.com"))
    assert done["register"]["user"]["id"]


async def test_too_many_aliases_are_refused(client: GraphQLClient, settings: Settings) -> None:
    def aliased(count: int) -> str:
        return "{ " + " ".join(f"a{i}: __typename" for i in range(count)) + " }"

    allowed = await client.data(aliased(settings.max_query_aliases))
    assert len(allowed) == settings.max_query_aliases
    body = await client.execute(aliased(settings.max_query_aliases + 1))
    assert top_level_code(body) == "QUERY_TOO_COMPLEX"
    assert "alias" in body["errors"][0]["message"]
    assert body.get("data") is None


def fragments_query(tokens: int) -> str:
    """A valid query of exactly `tokens` tokens (2 for the braces, 9 per fragment)."""
    assert (tokens - 2) % 9 == 0
    count = (tokens - 2) // 9
    spreads = " ".join(f"...F{i}" for i in range(count))
    fragments = " ".join(f"fragment F{i} on Query {{ __typename }}" for i in range(count))
    return f"{{ {spreads} }} {fragments}"


async def test_a_document_over_the_token_limit_is_refused_unparsed(
    client: GraphQLClient, settings: Settings
) -> None:
    limit = settings.max_query_tokens - (settings.max_query_tokens - 2) % 9
    assert (await client.data(fragments_query(limit)))["__typename"] == "Query"
    body = await client.execute(fragments_query(limit + 9))
    assert body.get("data") is None
    [error] = body["errors"]
    assert "tokens" in error["message"]
    assert error["extensions"]["code"] in ("QUERY_TOO_COMPLEX", "BAD_USER_INPUT")


async def test_a_document_over_the_token_limit_is_query_too_complex(
    client: GraphQLClient, settings: Settings
) -> None:
    body = await client.execute("{ " + "__typename " * settings.max_query_tokens + "}")
    assert top_level_code(body) == "QUERY_TOO_COMPLEX"


async def test_list_cost_is_priced_at_the_first_actually_sent(client: GraphQLClient) -> None:
    account = await client.register()
    cheap = await client.data(EXPENSIVE, {"n": 1}, account.token)
    assert cheap["myOrders"]["edges"] == []
    body = await client.execute(EXPENSIVE, {"n": 100}, account.token)
    assert top_level_code(body) == "QUERY_TOO_COMPLEX"
    assert "cost" in body["errors"][0]["message"]


async def test_deeply_nested_introspection_is_refused(client: GraphQLClient) -> None:
    nested = "fields { type { ofType { " * 4 + "name" + " } } }" * 4
    body = await client.execute("{ __schema { types { " + nested + " } } }")
    assert body.get("data") is None
    assert top_level_code(body) in ("QUERY_TOO_COMPLEX", "BAD_USER_INPUT")
