"""The query gate: abusive documents are refused before validation, with bounded work.

Every refusal is checked over real HTTP (the app in-process, both databases) and
its work is COUNTED, never timed: graphql-core's `validate` is wrapped with a
counter (a refused document is never validated), and the gate's own measure
reports the AST nodes it visited (`GateStats.nodes_visited`), which must stay
proportional to the document's size however many times its fragments expand.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from graphql import get_introspection_query
from starlette.testclient import TestClient

from eventhub.schema.limits import GateStats
from eventhub.settings import Settings
from eventhub.web.app import create_app
from tests.conftest import make_settings
from tests.support.graphql import GraphQLClient

TOO_COMPLEX = "QUERY_TOO_COMPLEX"


class Work:
    """Counts real parses and validations, and the gate's visited nodes, from now on."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import graphql.language.parser as parser
        import strawberry.schema.schema as strawberry_schema
        from strawberry.extensions.parser_cache import _get_parse_cache
        from strawberry.extensions.validation_cache import _get_validate_cache

        _get_parse_cache(512).cache_clear()  # no earlier test's cached answer can help
        _get_validate_cache(512).cache_clear()
        self.parses = self.validations = 0
        self.visited_before = GateStats.nodes_visited
        parse_document = parser.Parser.parse_document
        validate = strawberry_schema.validate

        def counted_parse(parser_self: Any) -> Any:
            self.parses += 1
            return parse_document(parser_self)

        def counted_validate(*args: Any, **kwargs: Any) -> Any:
            self.validations += 1
            return validate(*args, **kwargs)

        monkeypatch.setattr(parser.Parser, "parse_document", counted_parse)
        monkeypatch.setattr(strawberry_schema, "validate", counted_validate)

    @property
    def visited(self) -> int:
        return GateStats.nodes_visited - self.visited_before


@pytest.fixture
def work(monkeypatch: pytest.MonkeyPatch) -> Work:
    return Work(monkeypatch)


def fragment_chain(count: int) -> str:
    """F1 spreads F2 twice, F2 spreads F3 twice…: 2**(count-1) fields once expanded."""
    middle = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(1, count)
    )
    return f"query {{ ...F1 }} {middle} fragment F{count} on Query {{ __typename }}"


def refusal(body: dict[str, Any], says: str) -> None:
    assert body.get("data") is None, body
    [error] = body["errors"][:1]
    assert error["extensions"]["code"] == TOO_COMPLEX, body
    assert says in error["message"], error


async def refused(client: GraphQLClient, query: str, says: str) -> None:
    refusal(await client.execute(query), says)


# --- refusals, each with its work counted -----------------------------------------------------


@pytest.mark.parametrize("count", [20, 40])
async def test_a_doubling_fragment_chain_is_refused_visiting_each_fragment_once(
    client: GraphQLClient, work: Work, count: int
) -> None:
    await refused(client, fragment_chain(count), "field selections exceed")
    assert work.validations == 0
    # 2 spreads per fragment, 1 field in the last one, 1 spread in the operation.
    assert work.visited == 2 * (count - 1) + 2


async def test_a_fragment_cycle_is_refused_not_followed(client: GraphQLClient, work: Work) -> None:
    cycle = (
        "{ ...A } fragment A on Query { __typename ...B } "
        "fragment B on Query { ...C } fragment C on Query { ...A ...A }"
    )
    await refused(client, cycle, "fragment cycle")
    assert work.validations == 0
    assert work.visited <= 6


async def test_a_field_repeated_400_times_is_refused_before_validation(
    client: GraphQLClient, work: Work
) -> None:
    repeated = "{" + "".join(f"me{{id}}{' ' * (n % 3)}\n" for n in range(400)) + "}"
    await refused(client, repeated, "field selections exceed the limit of 300")
    assert work.validations == 0
    assert work.visited == 800


async def test_a_field_repeated_within_the_field_cap_is_refused_by_its_repeats(
    client: GraphQLClient, work: Work, settings: Settings
) -> None:
    """Validation compares same-named selections pairwise: 150 `me { id }` are 300 fields,
    within the cap, but would cost it about 100 ms; so are 140 fragments with one each."""
    assert settings.max_query_fields >= 300
    repeated = "{" + "".join(f"me{{id}}{' ' * (n % 3)}\n" for n in range(150)) + "}"
    await refused(client, repeated, "`me` is selected 150 times in one selection set")
    fragments = " ".join(f"fragment F{i} on Query {{ me {{ id }} }}" for i in range(140))
    spread = "{ " + " ".join(f"...F{i}" for i in range(140)) + " } " + fragments
    await refused(client, spread, "`me` is selected 140 times")
    inline = '{ node(id: "x") { ' + "... on Event { organizer { id } } " * 17 + "} }"
    await refused(client, inline, "`organizer` is selected 17 times")
    assert work.validations == 0
    assert work.visited == 300 + (140 + 280) + (1 + 17 * 3)
    allowed = '{ node(id: "x") { ' + "... on Event { organizer { id } } " * 16 + "} }"
    assert await client.data(allowed) == {"node": None}


async def test_an_alias_flood_is_refused_also_when_fragments_multiply_it(
    client: GraphQLClient, work: Work, settings: Settings
) -> None:
    flat = "{ " + " ".join(f"a{i}: __typename" for i in range(100)) + " }"
    await refused(client, flat, "aliases exceed")
    aliases = " ".join(f"a{i}: __typename" for i in range(10))
    multiplied = (
        "{ ...A } fragment A on Query { ...B ...B ...B ...B } "
        f"fragment B on Query {{ {aliases} }}"
    )  # 40 aliases once expanded, from 10 written
    await refused(client, multiplied, "aliases exceed")
    assert work.validations == 0
    assert work.visited == 100 + 1 + 4 + 10


async def test_a_directive_flood_on_one_field_is_refused(client: GraphQLClient, work: Work) -> None:
    flood = "{ __typename" + " @include(if: true)" * 80 + " }"
    await refused(client, flood, "directives exceed the limit of 50")
    spread = "{ ...D ...D ...D } fragment D on Query { __typename" + " @skip(if: false)" * 20 + " }"
    await refused(client, spread, "directives exceed")  # 60 once expanded
    assert work.validations == 0


async def test_deeply_nested_lists_are_refused_by_the_parser_unvalidated(
    client: GraphQLClient, work: Work
) -> None:
    nested = "{ events(first: " + "[" * 300 + "]" * 300 + ") { totalCount } }"
    await refused(client, nested, "nested too deeply")
    fields = "{ __schema { " + "types { fields { type { " * 70 + "name" + " } } }" * 70 + " } }"
    await refused(client, fields, "nested too deeply")
    assert work.validations == 0
    assert work.visited == 0  # the parser stopped: the gate had nothing to walk


async def test_nested_list_fields_saturate_the_cost_instead_of_growing_it(
    client: GraphQLClient, work: Work
) -> None:
    lists = "myOrders(first: 100) { edges { node { tickets { event { ticketTypes { id } } } } } }"
    chain = (
        "{ ...L1 } "
        + " ".join(f"fragment L{i} on Query {{ ...L{i + 1} ...L{i + 1} }}" for i in range(1, 30))
        + f" fragment L30 on Query {{ {lists} }}"
    )
    account = await client.register()
    registered, visited = work.validations, work.visited
    refusal(await client.execute(f"{{ {lists} }}", token=account.token), "cost exceeds")
    refusal(await client.execute(chain, token=account.token), "exceed")
    assert work.validations == registered
    assert work.visited - visited == 7 + 1 + 2 * 29 + 7


async def test_a_token_flood_is_refused_while_parsing(
    client: GraphQLClient, work: Work, settings: Settings
) -> None:
    await refused(client, "{ " + "__typename " * 5000 + "}", "tokens")
    comments = "{ __typename }\n" + "#\n" * 5000  # comments count as tokens too
    await refused(client, comments, "tokens")
    assert work.validations == 0
    assert work.visited == 0


async def test_a_query_over_the_length_cap_is_refused_before_it_is_lexed(
    client: GraphQLClient, work: Work, settings: Settings
) -> None:
    padded = "{ __typename }" + " " * settings.max_query_length
    await refused(client, padded, f"more than {settings.max_query_length} code points")
    assert (work.parses, work.validations, work.visited) == (0, 0, 0)


# --- every path goes through the gate -----------------------------------------------------------


async def test_get_batched_and_persisted_requests_are_gated_too(
    client: GraphQLClient, work: Work
) -> None:
    chain = fragment_chain(40)
    by_get = await client.http.get("/graphql", params={"query": chain})
    assert by_get.status_code == 200
    refusal(by_get.json(), "field selections exceed")

    batch = await client.http.post("/graphql", json=[{"query": "{ __typename }"}, {"query": chain}])
    first, second = batch.json()
    assert first == {"data": {"__typename": "Query"}}
    refusal(second, "field selections exceed")

    digest = hashlib.sha256(chain.encode()).hexdigest()
    apq = {"query": chain, "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}}}
    refusal((await client.http.post("/graphql", json=apq)).json(), "field selections exceed")
    by_hash = await client.http.post("/graphql", json={"extensions": apq["extensions"]})
    assert by_hash.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"

    strict = await client.http.post(
        "/graphql",
        json={"query": chain},
        headers={"accept": "application/graphql-response+json"},
    )
    assert strict.status_code == 400  # refused before execution: a request error
    refusal(strict.json(), "field selections exceed")
    assert work.validations == 1  # only the batch's `{ __typename }`


@pytest.fixture
def socket_app(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(create_app(make_settings(database_url, tmp_path))) as test_client:
        yield test_client


def socket_errors(message: dict[str, Any]) -> list[dict[str, Any]]:
    """graphql-transport-ws sends `error` with a list; legacy graphql-ws with one error."""
    assert message["type"] == "error", message
    payload = message["payload"]
    errors: list[dict[str, Any]] = payload if isinstance(payload, list) else [payload]
    return errors


@pytest.mark.parametrize("protocol", ["graphql-transport-ws", "graphql-ws"])
def test_websocket_operations_are_gated_too(
    socket_app: TestClient, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    work = Work(monkeypatch)
    start = "subscribe" if protocol == "graphql-transport-ws" else "start"
    wide = 'subscription { capacityChanged(eventId: "x") { ' + "__typename " * 300 + "} }"
    with socket_app.websocket_connect("/graphql", subprotocols=[protocol]) as socket:
        socket.send_json({"type": "connection_init", "payload": {}})
        assert socket.receive_json()["type"] == "connection_ack"
        for n, query in enumerate([fragment_chain(40), wide]):
            socket.send_json({"id": str(n), "type": start, "payload": {"query": query}})
            message = socket.receive_json()
            while message["type"] == "ka":
                message = socket.receive_json()
            assert message["id"] == str(n)
            [error] = socket_errors(message)
            assert error["extensions"]["code"] == TOO_COMPLEX, message
            assert "field selections exceed" in error["message"]
    assert work.validations == 0


# --- what is allowed still works ----------------------------------------------------------------


async def test_a_large_but_fine_query_still_runs(
    client: GraphQLClient, work: Work, settings: Settings
) -> None:
    """GraphiQL's own introspection query (every option on: 229 fields once expanded) runs,
    and so does a document at the field limit built from fragments spread many times."""
    everything = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    introspection = await client.data(everything)
    assert introspection["__schema"]["queryType"]["name"] == "Query"

    fields = " ".join(f"f{i}: __typename" for i in range(20))  # 20 fields, 20 aliases
    plain = " ".join(["__typename"] * 10)
    spreads = " ".join(["...Plain"] * ((settings.max_query_fields - 20) // 10))
    fine = (
        f"{{ {fields} ...Wide }} fragment Wide on Query {{ {spreads} }} "
        f"fragment Plain on Query {{ {plain} }}"
    )  # exactly the limit once expanded, from about 60 nodes written
    assert settings.max_query_fields % 10 == 0
    data = await client.data(fine)
    assert (data["__typename"], data["f19"]) == ("Query", "Query")
    one_more = fine.replace("{ f0: __typename", "{ __typename f0: __typename")
    await refused(client, one_more, "field selections exceed")
    assert work.validations == 2  # the introspection query and `fine`; not `one_more`
