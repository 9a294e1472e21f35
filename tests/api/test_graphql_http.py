"""GraphQL over HTTP as standard clients speak it: batches, JSON errors, media types, CORS, SDL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from eventhub.resolvers import paging
from eventhub.schema.schema import build_schema
from eventhub.settings import Settings
from eventhub.web.app import create_app
from tests.conftest import make_settings
from tests.support.factories import create_event
from tests.support.graphql import GraphQLClient

GRAPHQL_RESPONSE = "application/graphql-response+json"
TYPENAME = {"query": "{ __typename }"}


@asynccontextmanager
async def http_client(database_url: str, tmp_path: Path, **settings: Any) -> AsyncIterator[Any]:
    application = create_app(make_settings(database_url, tmp_path, **settings))
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application, client=("203.0.113.9", 4321))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield http


def code_of(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


# --- batching -----------------------------------------------------------------------------------


async def test_a_batch_answers_each_operation_in_order(client: GraphQLClient) -> None:
    account = await client.register()
    batch = [
        {"query": "{ me { email } }"},
        {
            "query": "query Page($n: Int) { events(first: $n) { totalCount } }",
            "variables": {"n": 5},
        },
        {"query": "{ nope }"},
        {"query": 42},
    ]
    headers = {"authorization": f"Bearer {account.token}"}
    response = await client.http.post("/graphql", json=batch, headers=headers)
    assert response.status_code == 200
    first, second, invalid, malformed = response.json()
    assert first == {"data": {"me": {"email": account.email}}}
    assert second == {"data": {"events": {"totalCount": 0}}}
    assert code_of(invalid) == "BAD_USER_INPUT"
    assert "data" not in invalid
    assert code_of(malformed) == "BAD_USER_INPUT"
    assert "query" in malformed["errors"][0]["message"]


async def test_a_batch_of_mutations_runs_them_in_order(client: GraphQLClient) -> None:
    register = "mutation($input: RegisterInput!) { register(input: $input) { user { email } } }"
    login = "mutation($e: String!) { login(email: $e, password: $p) { user { email } } }"
    login = login.replace("$e: String!)", "$e: String!, $p: String!)")
    email = "batched@example.com"
    variables = {"email": email, "password": "correct-horse-battery", "name": "B"}
    batch = [
        {"query": register, "variables": {"input": variables}},
        {"query": login, "variables": {"e": email, "p": "correct-horse-battery"}},
    ]
    registered, logged_in = (await client.http.post("/graphql", json=batch)).json()
    assert registered["data"]["register"]["user"]["email"] == email
    assert logged_in["data"]["login"]["user"]["email"] == email


async def test_a_batch_over_the_limit_is_refused_whole(database_url: str, tmp_path: Path) -> None:
    async with http_client(database_url, tmp_path, max_batch=3) as http:
        assert len((await http.post("/graphql", json=[TYPENAME] * 3)).json()) == 3
        refused = await http.post("/graphql", json=[TYPENAME] * 4)
    assert refused.status_code == 400
    assert refused.headers["content-type"].startswith("application/json")
    assert code_of(refused.json()) == "BATCH_TOO_LARGE"
    assert "at most 3" in refused.json()["errors"][0]["message"]


async def test_each_operation_of_a_batch_counts_against_the_rate_limit(
    database_url: str, tmp_path: Path
) -> None:
    async with http_client(database_url, tmp_path, rate_limit="4/minute") as http:
        answers = (await http.post("/graphql", json=[TYPENAME] * 6)).json()
        after = await http.post("/graphql", json=TYPENAME)
    codes = [a["errors"][0]["extensions"]["code"] if "errors" in a else "ok" for a in answers]
    assert codes == ["ok"] * 4 + ["RATE_LIMITED"] * 2
    assert after.status_code == 429


# --- request-level errors are JSON ----------------------------------------------------------------


REQUEST_ERRORS = {
    "broken JSON": (
        {"content": b'{"query": ', "headers": {"content-type": "application/json"}},
        400,
    ),
    "no query": ({"json": {"variables": {}}}, 400),
    "an empty batch": ({"json": []}, 400),
    "plain text": ({"content": b"{ me }", "headers": {"content-type": "text/plain"}}, 415),
    "unknown operation name": (
        {"json": {"query": "query A { me { id } }", "operationName": "B"}},
        400,
    ),
}


@pytest.mark.parametrize(("request_kwargs", "status"), REQUEST_ERRORS.values(), ids=REQUEST_ERRORS)
async def test_a_request_level_error_is_json_with_a_code(
    client: GraphQLClient, request_kwargs: dict[str, Any], status: int
) -> None:
    response = await client.http.post("/graphql", **request_kwargs)
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"errors"}
    assert code_of(body) == "BAD_USER_INPUT"
    assert body["errors"][0]["message"]


async def test_a_mutation_by_get_is_405_with_allow_post(client: GraphQLClient) -> None:
    params = {"query": 'mutation { logout(refreshToken: "x") }'}
    response = await client.http.get("/graphql", params=params, headers={"accept": "*/*"})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert "POST" in response.json()["errors"][0]["message"]


async def test_another_method_is_a_json_405(client: GraphQLClient) -> None:
    response = await client.http.put("/graphql", json=TYPENAME)
    assert response.status_code == 405
    assert code_of(response.json()) == "BAD_USER_INPUT"


# --- media types (GraphQL over HTTP) --------------------------------------------------------------


async def test_graphql_response_json_is_honoured_with_the_specs_status_codes(
    client: GraphQLClient,
) -> None:
    accept = {"accept": f"{GRAPHQL_RESPONSE}, application/json;q=0.9"}
    ok = await client.http.post("/graphql", json=TYPENAME, headers=accept)
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert ok.json() == {"data": {"__typename": "Query"}}

    invalid = await client.http.post("/graphql", json={"query": "{ nope }"}, headers=accept)
    assert invalid.status_code == 400  # validation failed: a request error under the new type
    assert invalid.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert "data" not in invalid.json()

    legacy = await client.http.post("/graphql", json={"query": "{ nope }"})
    assert legacy.status_code == 200  # application/json keeps 200 for a well-formed request
    assert legacy.headers["content-type"].startswith("application/json")

    started = await client.http.post("/graphql", json={"query": "{ myOrders { totalCount } }"})
    assert started.status_code == 200  # execution began: 200 with data null and the error
    assert started.json()["data"] is None
    assert code_of(started.json()) == "UNAUTHENTICATED"


async def test_an_unacceptable_accept_header_is_406(client: GraphQLClient) -> None:
    response = await client.http.post("/graphql", json=TYPENAME, headers={"accept": "text/csv"})
    assert response.status_code == 406
    assert GRAPHQL_RESPONSE in response.json()["errors"][0]["message"]


async def test_a_browser_get_without_a_query_gets_graphiql(client: GraphQLClient) -> None:
    page = await client.http.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "/static/graphiql/graphiql.min.js" in page.text
    assert "://" not in page.text  # served from the package, never a CDN


# --- CORS -----------------------------------------------------------------------------------------


def preflight(origin: str, headers: str = "content-type, authorization") -> dict[str, str]:
    return {
        "origin": origin,
        "access-control-request-method": "POST",
        "access-control-request-headers": headers,
    }


async def test_cors_allows_the_configured_origins_only(database_url: str, tmp_path: Path) -> None:
    origins = "https://app.example.com, https://door.example.com"
    async with http_client(database_url, tmp_path, cors_origins=origins) as http:
        allowed = await http.options("/graphql", headers=preflight("https://door.example.com"))
        other = await http.options("/graphql", headers=preflight("https://evil.example"))
        simple = await http.post(
            "/graphql", json=TYPENAME, headers={"origin": "https://app.example.com"}
        )
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == "https://door.example.com"
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "access-control-allow-origin" not in other.headers
    assert simple.headers["access-control-allow-origin"] == "https://app.example.com"
    assert simple.json() == {"data": {"__typename": "Query"}}


async def test_a_wildcard_origin_is_for_anonymous_calls_only(
    database_url: str, tmp_path: Path
) -> None:
    async with http_client(database_url, tmp_path, cors_origins="*") as http:
        anonymous = await http.options(
            "/graphql", headers=preflight("https://a.example", "content-type")
        )
        with_token = await http.options("/graphql", headers=preflight("https://a.example"))
    assert anonymous.status_code == 200
    assert anonymous.headers["access-control-allow-origin"] == "*"
    assert with_token.status_code == 400  # a token may not be sent from any page


async def test_no_cors_headers_without_configured_origins(client: GraphQLClient) -> None:
    response = await client.http.post(
        "/graphql", json=TYPENAME, headers={"origin": "https://app.example.com"}
    )
    assert "access-control-allow-origin" not in response.headers
    refused = await client.http.options("/graphql", headers=preflight("https://app.example.com"))
    assert refused.status_code == 405


def test_a_bad_cors_origin_stops_start_up(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        make_settings("sqlite+aiosqlite:///x.db", tmp_path, cors_origins="app.example.com")


# --- the SDL and what introspection shows ---------------------------------------------------------


async def test_the_sdl_route_prints_every_directive(
    client: GraphQLClient, settings: Settings
) -> None:
    response = await client.http.get("/graphql/schema.graphql")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    sdl = response.text
    assert sdl.strip() == build_schema(settings).as_str().strip()  # what `eventhub schema` prints
    assert "directive @requiresRole(roles: [Role!]!) on FIELD_DEFINITION" in sdl
    assert "directive @cost(weight: Int!) on FIELD_DEFINITION" in sdl
    assert "@requiresRole(roles: [ADMIN])" in sdl
    assert "events(first: Int = 20" in sdl  # nullable, as the contract has it


INTROSPECT = """{ __type(name: "Mutation") { fields { name description } } }"""


async def test_introspection_names_the_roles_a_guarded_field_needs(client: GraphQLClient) -> None:
    fields = (await client.data(INTROSPECT))["__type"]["fields"]
    described = {field["name"]: field["description"] or "" for field in fields}
    assert described["setUserRoles"].endswith("Requires the role ADMIN.")
    assert "ORGANIZER, ADMIN" in described["refundOrder"]
    assert "Requires" not in described["register"]


async def test_first_null_means_the_default_page(
    client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paging, "DEFAULT_PAGE", 2)
    organizer = await client.register(organizer=True)
    for index in range(3):
        await create_event(client, organizer, publish=False, name=f"Event {index}")
    page_of = "{ edges { cursor } pageInfo { hasNextPage } }"
    query = "query($n: Int) { myEvents(first: $n) " + page_of + " }"
    literal = "{ myEvents(first: null) " + page_of + " }"
    for page in (
        await client.data(literal, {}, organizer.token),
        await client.data(query, {"n": None}, organizer.token),
    ):
        assert len(page["myEvents"]["edges"]) == 2
        assert page["myEvents"]["pageInfo"]["hasNextPage"] is True
    everything = await client.data(query, {"n": 3}, organizer.token)
    assert len(everything["myEvents"]["edges"]) == 3


async def handshake(app: Any, origin: str) -> str:
    """The first thing the app answers to a WebSocket handshake from `origin` (accept or close)."""
    scope = {
        "type": "websocket",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "scheme": "ws",
        "server": ("testserver", 80),
        "client": ("203.0.113.9", 4321),
        "subprotocols": ["graphql-transport-ws"],
        "headers": [(b"host", b"testserver"), (b"origin", origin.encode())],
        "state": {},
    }
    incoming: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    await incoming.put({"type": "websocket.connect"})
    answered: asyncio.Future[str] = asyncio.get_running_loop().create_future()

    async def send(message: dict[str, Any]) -> None:
        if not answered.done():
            answered.set_result(message["type"])
            await incoming.put({"type": "websocket.disconnect", "code": 1000})

    task = asyncio.create_task(app(scope, incoming.get, send))
    try:
        return await asyncio.wait_for(answered, timeout=10)
    finally:
        await asyncio.wait_for(task, timeout=10)


async def test_pages_on_the_cors_origins_may_open_the_websocket(
    database_url: str, tmp_path: Path
) -> None:
    settings = make_settings(database_url, tmp_path, cors_origins="https://app.example.com")
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        allowed = await handshake(application, "https://app.example.com")
        other = await handshake(application, "https://evil.example")
    assert allowed == "websocket.accept"
    assert other == "websocket.close"  # refused before accepting: HTTP 403 to the browser
