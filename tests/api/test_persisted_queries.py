"""Apollo's automatic persisted queries and trusted documents, over POST and GET."""

from __future__ import annotations

import hashlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from eventhub.services import trusted_documents
from eventhub.web.app import create_app
from eventhub.web.document_store import LocalDocumentStore
from tests.conftest import make_settings
from tests.support.fault_proxy import fault_proxy
from tests.support.graphql import LOGIN, PASSWORD, REGISTER, GraphQLClient, make_admin

ME = "query Me { me { email } }"
EVENTS = "query Events { events(first: 5) { totalCount } }"


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


def persisted(document: str, *, with_text: bool = False, **extra: Any) -> dict[str, Any]:
    """The body Apollo's persisted-query link sends: the hash, and the text on its retry."""
    body: dict[str, Any] = {
        "extensions": {"persistedQuery": {"version": 1, "sha256Hash": sha256(document)}},
        **extra,
    }
    if with_text:
        body["query"] = document
    return body


def code_of(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


@asynccontextmanager
async def http_client(app: Any, address: str = "203.0.113.7") -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app, client=(address, 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


@asynccontextmanager
async def running_app(database_url: str, tmp_path: Path, **settings: Any) -> AsyncIterator[Any]:
    application = create_app(make_settings(database_url, tmp_path, **settings))
    async with application.router.lifespan_context(application):
        yield application


# --- automatic persisted queries -----------------------------------------------------------------


async def test_an_unknown_hash_asks_the_client_to_send_the_query(client: GraphQLClient) -> None:
    """What Apollo's link needs: HTTP 200 and PersistedQueryNotFound, then the resend works."""
    response = await client.http.post("/graphql", json=persisted(EVENTS))
    assert response.status_code == 200
    assert response.json() == {
        "errors": [
            {
                "message": "PersistedQueryNotFound",
                "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
            }
        ]
    }
    retried = await client.http.post("/graphql", json=persisted(EVENTS, with_text=True))
    assert retried.json() == {"data": {"events": {"totalCount": 0}}}
    again = await client.http.post("/graphql", json=persisted(EVENTS))
    assert again.json() == {"data": {"events": {"totalCount": 0}}}


async def test_a_persisted_query_runs_by_get_with_variables(client: GraphQLClient) -> None:
    document = "query Page($n: Int) { events(first: $n) { totalCount } }"
    await client.http.post("/graphql", json=persisted(document, with_text=True))
    params = {
        "extensions": json.dumps(persisted(document)["extensions"]),
        "variables": json.dumps({"n": 3}),
        "operationName": "Page",
    }
    answer = await client.http.get("/graphql", params=params, headers={"accept": "text/html, */*"})
    assert answer.status_code == 200  # a hash is an operation: no GraphiQL page
    assert answer.json() == {"data": {"events": {"totalCount": 0}}}


async def test_an_unknown_hash_by_get_is_not_found_too(client: GraphQLClient) -> None:
    params = {"extensions": json.dumps(persisted(ME)["extensions"])}
    answer = await client.http.get(
        "/graphql", params=params, headers={"accept": "text/html, */*;q=0.8"}
    )
    assert answer.status_code == 200
    assert code_of(answer.json()) == "PERSISTED_QUERY_NOT_FOUND"


async def test_a_hash_that_does_not_match_its_query_is_refused(client: GraphQLClient) -> None:
    body = persisted(EVENTS)
    body["query"] = ME
    response = await client.http.post("/graphql", json=body)
    assert response.status_code == 400
    assert code_of(response.json()) == "BAD_USER_INPUT"
    assert "does not match" in response.json()["errors"][0]["message"]
    # Nothing was registered under the wrong hash.
    assert code_of((await client.http.post("/graphql", json=persisted(EVENTS))).json()) == (
        "PERSISTED_QUERY_NOT_FOUND"
    )


async def test_an_invalid_document_is_never_registered(client: GraphQLClient) -> None:
    document = "{ nope }"
    first = await client.http.post("/graphql", json=persisted(document, with_text=True))
    assert code_of(first.json()) == "BAD_USER_INPUT"
    later = await client.http.post("/graphql", json=persisted(document))
    assert code_of(later.json()) == "PERSISTED_QUERY_NOT_FOUND"


async def test_an_unsupported_version_is_a_clear_error(client: GraphQLClient) -> None:
    body = {"extensions": {"persistedQuery": {"version": 2, "sha256Hash": sha256(ME)}}}
    response = await client.http.post("/graphql", json=body)
    assert response.status_code == 400
    assert "version: 1" in response.json()["errors"][0]["message"]


async def test_the_store_is_bounded_least_recently_used_first() -> None:
    store = LocalDocumentStore(size=2)
    await store.put("a", "{ a }")
    await store.put("b", "{ b }")
    assert await store.get("a") == "{ a }"  # a is now the most recent
    await store.put("c", "{ c }")
    assert len(store) == 2
    assert await store.get("b") is None
    assert await store.get("a") == "{ a }"
    assert await store.get("c") == "{ c }"


async def test_a_batch_of_persisted_queries(client: GraphQLClient) -> None:
    batch = [persisted(EVENTS, with_text=True), persisted(ME)]
    registered, missing = (await client.http.post("/graphql", json=batch)).json()
    assert registered == {"data": {"events": {"totalCount": 0}}}
    assert code_of(missing) == "PERSISTED_QUERY_NOT_FOUND"


# --- shared through Redis ------------------------------------------------------------------------


@pytest.fixture
def redis_url() -> str:
    import os

    url = os.environ.get("EVENTHUB_TEST_REDIS_URL")
    if not url:
        pytest.skip("set EVENTHUB_TEST_REDIS_URL (e.g. redis://127.0.0.1:6379/0) to test Redis")
    return url


async def test_a_query_registered_on_one_worker_runs_on_another(
    database_url: str, tmp_path: Path, redis_url: str
) -> None:
    document = f"query Shared{sha256(str(tmp_path))[:8]} {{ events(first: 2) {{ totalCount }} }}"
    async with (
        running_app(database_url, tmp_path, redis_url=redis_url) as one,
        running_app(database_url, tmp_path, redis_url=redis_url) as two,
        http_client(one) as first,
        http_client(two) as second,
    ):
        before = await second.http.post("/graphql", json=persisted(document))
        assert code_of(before.json()) == "PERSISTED_QUERY_NOT_FOUND"
        await first.http.post("/graphql", json=persisted(document, with_text=True))
        after = await second.http.post("/graphql", json=persisted(document))
    assert after.json() == {"data": {"events": {"totalCount": 0}}}


async def test_without_redis_each_process_keeps_its_own_store(
    database_url: str, tmp_path: Path
) -> None:
    dead_redis = "redis://127.0.0.1:9/0"  # the discard port: nothing answers
    async with (
        running_app(database_url, tmp_path, redis_url=dead_redis) as app,
        http_client(app) as client,
    ):
        await client.http.post("/graphql", json=persisted(EVENTS, with_text=True))
        again = await client.http.post("/graphql", json=persisted(EVENTS))
    assert again.json() == {"data": {"events": {"totalCount": 0}}}


async def test_a_stalled_redis_costs_persisted_queries_no_waiting_after_the_first_call(
    database_url: str, tmp_path: Path, redis_url: str, redis_key_prefix: str
) -> None:
    """The store shares the limits' RedisLink: once one call found Redis stalled, lookups
    and registrations are answered per process without touching Redis until it is back."""
    target = urlsplit(redis_url)
    with fault_proxy(target.hostname or "127.0.0.1", target.port or 6379) as proxy:
        shared = {"redis_url": proxy.url_for(redis_url), "redis_key_prefix": redis_key_prefix}
        async with running_app(database_url, tmp_path, **shared) as app, http_client(app) as client:
            link = app.state.eventhub.redis
            proxy.stall()
            connections_before = proxy.accepted
            unknown = [
                await client.http.post("/graphql", json=persisted(f"{{ n{n}: __typename }}"))
                for n in range(20)
            ]
            registered = await client.http.post("/graphql", json=persisted(EVENTS, with_text=True))
            again = await client.http.post("/graphql", json=persisted(EVENTS))
            waited_on_redis, answered_locally = link.failed_calls, link.fallbacks
            # a stalled call's connection is dropped: each new attempt is a new connection
            attempts = proxy.accepted - connections_before
            proxy.pass_traffic()

    assert [code_of(r.json()) for r in unknown] == ["PERSISTED_QUERY_NOT_FOUND"] * 20
    assert registered.json() == again.json() == {"data": {"events": {"totalCount": 0}}}
    assert waited_on_redis <= 2  # the call that found the stall (and perhaps one in flight)
    assert answered_locally >= 20
    assert attempts <= 5  # that call and the link's probe, not one per request (22 here)


# --- trusted documents ---------------------------------------------------------------------------


def write_manifest(tmp_path: Path, documents: list[str]) -> Path:
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({sha256(d): d for d in documents}))
    return path


async def load(app: Any, documents: dict[str, str]) -> trusted_documents.Loaded:
    async with app.state.eventhub.session_factory() as session:
        return await trusted_documents.add_documents(session, documents)


async def test_trusted_documents_only_refuses_other_documents_except_for_admins(
    database_url: str, tmp_path: Path
) -> None:
    async with (
        running_app(database_url, tmp_path, trusted_documents_only=True) as app,
        http_client(app) as client,
    ):
        app_documents = [EVENTS, ME, REGISTER, LOGIN]  # what the first-party app was built with
        await load(app, {sha256(d): d for d in app_documents})
        by_hash = await client.http.post("/graphql", json=persisted(EVENTS))
        by_document_id = await client.http.post(
            "/graphql", json={"documentId": f"sha256:{sha256(EVENTS)}"}
        )
        by_text = await client.http.post("/graphql", json={"query": EVENTS})
        other = await client.http.post("/graphql", json={"query": "{ __typename }"})
        registering = await client.http.post(
            "/graphql", json=persisted("{ __typename }", with_text=True)
        )
        customer = await client.register()
        as_customer = await client.post("{ me { email } }", token=customer.token)
        admin = await make_admin(app, client)
        as_admin = await client.post("{ me { email } }", token=admin.token)
    for answer in (by_hash, by_document_id, by_text):
        assert answer.json() == {"data": {"events": {"totalCount": 0}}}
    for refused in (other, registering, as_customer):
        assert refused.status_code == 403
        assert code_of(refused.json()) == "FORBIDDEN"
    assert as_admin.json() == {"data": {"me": {"email": admin.email}}}


def test_a_manifest_is_read_in_each_tool_s_shape() -> None:
    codegen = json.dumps({sha256(ME): ME})
    relay = json.dumps({"5f2a1c": EVENTS})  # Relay's own ids (md5 by default)
    apollo = json.dumps(
        {
            "format": "apollo-persisted-query-manifest",
            "version": 1,
            "operations": [{"id": sha256(ME), "name": "Me", "type": "query", "body": ME}],
        }
    )
    assert trusted_documents.parse_manifest(codegen) == {sha256(ME): ME}
    assert trusted_documents.parse_manifest(relay) == {"5f2a1c": EVENTS}
    assert trusted_documents.parse_manifest(apollo) == {sha256(ME): ME}


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("not json", "not JSON"),
        ("[]", "JSON object"),
        ("{}", "no documents"),
        (json.dumps({sha256(ME): EVENTS}), "not the SHA-256"),
        (json.dumps({"x": ""}), "non-empty"),
    ],
)
def test_a_bad_manifest_is_refused_with_the_reason(text: str, problem: str) -> None:
    with pytest.raises(trusted_documents.ManifestError, match=problem):
        trusted_documents.parse_manifest(text)


async def test_a_trusted_id_never_changes_its_document(app: Any) -> None:
    assert await load(app, {"doc-1": ME}) == trusted_documents.Loaded(added=1, unchanged=0)
    assert await load(app, {"doc-1": ME, "doc-2": EVENTS}) == trusted_documents.Loaded(1, 1)
    with pytest.raises(trusted_documents.ManifestError, match="another document"):
        await load(app, {"doc-1": EVENTS})


async def test_a_relay_id_runs_by_document_id(app: Any, client: GraphQLClient) -> None:
    await load(app, {"relay-events-1": EVENTS})
    answer = await client.http.post("/graphql", json={"documentId": "relay-events-1"})
    assert answer.json() == {"data": {"events": {"totalCount": 0}}}
    wrong = await client.http.post("/graphql", json={"documentId": "relay-events-1", "query": ME})
    assert wrong.status_code == 400


def test_the_cli_loads_a_manifest_once(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: Any
) -> None:
    from eventhub import cli
    from tests.conftest import TEST_SECRET, TEST_TICKET_KEY

    monkeypatch.setenv("EVENTHUB_DATABASE_URL", database_url)
    monkeypatch.setenv("EVENTHUB_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("EVENTHUB_TICKET_SIGNING_KEY", TEST_TICKET_KEY)
    manifest = write_manifest(tmp_path, [ME, EVENTS])
    assert cli.main(["documents", "add", str(manifest)]) == 0
    assert "2 trusted documents added" in capsys.readouterr().out
    assert cli.main(["documents", "add", str(manifest)]) == 0
    assert "0 trusted documents added, 2 already there" in capsys.readouterr().out

    invalid = write_manifest(tmp_path, ["{ nope }"])
    assert cli.main(["documents", "add", str(invalid)]) == 2
    assert "Cannot query field 'nope'" in capsys.readouterr().err
    assert cli.main(["documents", "add", str(tmp_path / "missing.json")]) == 2


# --- persisted documents skip parsing and validation ---------------------------------------------


class WorkCounter:
    """Counts real parses and validations; `forget` empties the text-keyed caches first."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import graphql.language.parser as parser
        import strawberry.schema.schema as strawberry_schema

        self.counts = {"parse": 0, "validate": 0}
        parse_document = parser.Parser.parse_document
        validate = strawberry_schema.validate

        def counted_parse(parser_self: Any) -> Any:
            self.counts["parse"] += 1
            return parse_document(parser_self)

        def counted_validate(*args: Any, **kwargs: Any) -> Any:
            self.counts["validate"] += 1
            return validate(*args, **kwargs)

        monkeypatch.setattr(parser.Parser, "parse_document", counted_parse)
        monkeypatch.setattr(strawberry_schema, "validate", counted_validate)

    def forget(self) -> None:
        from strawberry.extensions.parser_cache import _get_parse_cache
        from strawberry.extensions.validation_cache import _get_validate_cache

        _get_parse_cache(512).cache_clear()
        _get_validate_cache(512).cache_clear()
        self.counts.update(parse=0, validate=0)


async def test_a_persisted_document_is_parsed_and_validated_once(
    app: Any, client: GraphQLClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    work = WorkCounter(monkeypatch)
    document = f"query Once {{ events(first: 3) {{ totalCount }} }} # {tmp_path.name}"
    await load(app, {f"trusted-{tmp_path.name}": document})
    work.forget()
    first = await client.http.post("/graphql", json={"documentId": f"trusted-{tmp_path.name}"})
    assert first.json() == {"data": {"events": {"totalCount": 0}}}
    assert work.counts == {"parse": 1, "validate": 1}

    for _ in range(3):
        work.forget()  # no text cache can help
        again = await client.http.post("/graphql", json={"documentId": f"trusted-{tmp_path.name}"})
        assert again.json() == first.json()
        assert work.counts == {"parse": 0, "validate": 0}

    apq = f"query OnceApq {{ events(first: 4) {{ totalCount }} }} # {tmp_path.name}"
    await client.http.post("/graphql", json=persisted(apq, with_text=True))
    work.forget()
    by_hash = await client.http.post("/graphql", json=persisted(apq))
    assert by_hash.json() == {"data": {"events": {"totalCount": 0}}}
    assert work.counts == {"parse": 0, "validate": 0}

    work.forget()
    await client.http.post("/graphql", json={"query": apq})  # the same text, not by its id
    assert work.counts == {"parse": 1, "validate": 1}


# --- the dashboard's own documents are trusted -------------------------------------------


def test_the_dashboard_manifest_is_every_document_api_js_sends() -> None:
    import shutil
    import subprocess

    from eventhub.web.dashboard import DOCUMENTS, STATIC_DIR

    node = shutil.which("node")
    if node is None:
        pytest.fail("node not found: this test reads the dashboard's api.js with Node 20+")
    script = (
        f"import * as api from {json.dumps((STATIC_DIR / 'api.js').as_uri())};"
        "console.log(JSON.stringify(Object.values(api).filter((v) => typeof v === 'string')));"
    )
    done = subprocess.run(
        [node, "--input-type=module", "-e", script], capture_output=True, text=True, check=True
    )
    sent = json.loads(done.stdout)
    assert len(sent) >= 4
    assert trusted_documents.parse_manifest(DOCUMENTS.read_text()) == {sha256(d): d for d in sent}


async def test_the_dashboard_works_with_trusted_documents_only(
    database_url: str, tmp_path: Path
) -> None:
    from eventhub.web.dashboard import DOCUMENTS

    dashboard = list(json.loads(DOCUMENTS.read_text()).values())
    login, my_events = (
        next(d for d in dashboard if d.startswith(prefix))
        for prefix in ("mutation Login", "query MyEvents")
    )
    async with (
        running_app(database_url, tmp_path, trusted_documents_only=True) as app,
        http_client(app) as client,
    ):
        await load(app, {sha256(REGISTER): REGISTER})  # how this test signs an organizer up
        organizer = await client.register(organizer=True)
        signed_in = await client.data(login, {"email": organizer.email, "password": PASSWORD})
        token = signed_in["login"]["accessToken"]
        events = await client.data(my_events, {"after": None}, token)
        improvised = await client.post("{ myEvents { totalCount } }", token=token)
    assert events["myEvents"]["edges"] == []
    assert improvised.status_code == 403
