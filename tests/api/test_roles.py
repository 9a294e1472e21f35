"""Every field the SDL guards with `@requiresRole` refuses strangers and the wrong roles.

The guarded fields are read from the printed SDL, so a field guarded tomorrow is
tested tomorrow without touching this file; the guards themselves are checked
against the contract's schema.graphql.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLList,
    GraphQLNonNull,
    GraphQLScalarType,
    build_schema,
    get_named_type,
    is_leaf_type,
)
from graphql.pyutils import Undefined

from eventhub.schema.schema import build_schema as build_app_schema
from eventhub.settings import Settings
from tests.support.accounts import ROLES, account_with_roles, guarded_fields, root_fields
from tests.support.graphql import Account, GraphQLClient, make_admin

CONTRACT = Path(__file__).resolve().parents[1] / "contract" / "schema.graphql"  # its snapshot
ROOTS = ("Query", "Mutation", "Subscription")
SCALAR_SAMPLES: dict[str, Any] = {
    "ID": "RXZlbnQ6MQ",
    "String": "x",
    "Int": 1,
    "Float": 1.0,
    "Boolean": True,
    "DateTime": "2030-01-01T00:00:00+00:00",
    "Decimal": "1.00",
    "Upload": None,  # sent as multipart; a null is enough to reach the guard
}


def sample(kind: GraphQLInputType) -> Any:
    """A value of the input type that passes GraphQL validation (its meaning does not matter)."""
    if isinstance(kind, GraphQLNonNull):
        return sample(kind.of_type)
    if isinstance(kind, GraphQLList):
        return [sample(kind.of_type)]
    if isinstance(kind, GraphQLEnumType):
        return next(iter(kind.values))
    if isinstance(kind, GraphQLInputObjectType):
        return {
            name: sample(field.type)
            for name, field in kind.fields.items()
            if isinstance(field.type, GraphQLNonNull) and field.default_value is Undefined
        }
    assert isinstance(kind, GraphQLScalarType)
    assert kind.name in SCALAR_SAMPLES, f"add a sample value for the scalar {kind.name}"
    return SCALAR_SAMPLES[kind.name]


def operation(sdl_schema: Any, key: str) -> tuple[str, dict[str, Any], bool]:
    """(document, variables, whether a file must be uploaded) for a call of one root field."""
    type_name, field_name = key.split(".")
    field = sdl_schema.get_type(type_name).fields[field_name]
    required = {
        name: arg
        for name, arg in field.args.items()
        if isinstance(arg.type, GraphQLNonNull) and arg.default_value is Undefined
    }
    definitions = ", ".join(f"${name}: {arg.type}" for name, arg in required.items())
    arguments = ", ".join(f"{name}: ${name}" for name in required)
    selection = "" if is_leaf_type(get_named_type(field.type)) else " { __typename }"
    call = f"{field_name}({arguments})" if arguments else field_name
    head = f"{type_name.lower()} Guarded({definitions})" if definitions else type_name.lower()
    variables = {name: sample(arg.type) for name, arg in required.items()}
    uploads = any(get_named_type(a.type).name == "Upload" for a in required.values())
    return f"{head} {{ {call}{selection} }}", variables, uploads


async def post(
    client: GraphQLClient,
    document: str,
    variables: dict[str, Any],
    uploads: bool,
    token: str | None,
) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if not uploads:
        response = await client.post(document, variables, token)
    else:  # the GraphQL multipart request spec, as a browser would send a file
        upload_vars = [n for n, v in variables.items() if v is None]
        files = {"0": ("a.png", b"\x89PNG\r\n\x1a\n", "image/png")}
        form = {
            "operations": json.dumps({"query": document, "variables": variables}),
            "map": json.dumps({"0": [f"variables.{upload_vars[0]}"]}),
        }
        response = await client.http.post("/graphql", data=form, files=files, headers=headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def subscribe(
    app: Any, document: str, variables: dict[str, Any], token: str | None
) -> dict[str, Any]:
    """The first result of a subscription over graphql-transport-ws, driven straight on ASGI."""
    inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
    init = {
        "type": "connection_init",
        "payload": {"authorization": f"Bearer {token}"} if token else {},
    }
    start = {"id": "1", "type": "subscribe", "payload": {"query": document, "variables": variables}}
    await inbox.put({"type": "websocket.connect"})
    for message in (init, start):
        await inbox.put({"type": "websocket.receive", "text": json.dumps(message)})
    scope = {
        "type": "websocket", "asgi": {"version": "3.0"}, "path": "/graphql",
        "raw_path": b"/graphql", "query_string": b"", "root_path": "", "scheme": "ws",
        "server": ("testserver", 80), "client": ("203.0.113.7", 4321),
        "headers": [(b"host", b"testserver"), (b"sec-websocket-protocol", b"graphql-transport-ws")],
        "subprotocols": ["graphql-transport-ws"],
    }  # fmt: skip
    server = asyncio.create_task(app(scope, inbox.get, outbox.put))
    try:
        while True:
            sent = await asyncio.wait_for(outbox.get(), 5)
            assert sent["type"] != "websocket.close", sent
            if sent["type"] != "websocket.send":
                continue
            message = json.loads(sent["text"])
            if message.get("id") == "1" and message["type"] == "error":
                return {"data": None, "errors": message["payload"]}
            if message.get("id") == "1" and message["type"] == "next":
                payload: dict[str, Any] = message["payload"]
                return payload
    finally:
        await inbox.put({"type": "websocket.disconnect", "code": 1000})
        try:
            await asyncio.wait_for(server, 5)
        except TimeoutError:
            server.cancel()


def problem(body: dict[str, Any], field: str, expected: str) -> str | None:
    """What is wrong with the answer to a refused call, or None when it is right."""
    codes = [e.get("extensions", {}).get("code") for e in body.get("errors") or []]
    if codes != [expected]:
        return f"codes {codes}, expected [{expected}]: {body.get('errors')}"
    if (body.get("data") or {}).get(field) is not None:
        return f"data leaked: {body['data']}"
    return None


@pytest.fixture
def app_sdl(settings: Settings) -> str:
    """The SDL the running app serves (what `eventhub schema` prints)."""
    return build_app_schema(settings).as_str()


def test_the_sdl_guards_exactly_what_the_contract_guards(app_sdl: str) -> None:
    contract_sdl = CONTRACT.read_text()
    contract_guards, app_guards = guarded_fields(contract_sdl), guarded_fields(app_sdl)
    assert len(contract_guards) >= 20  # the contract's own list was read
    assert root_fields(contract_sdl) <= root_fields(app_sdl)
    differences = {
        key: {
            "contract": sorted(contract_guards.get(key, ())),
            "app": sorted(app_guards.get(key, ())),
        }
        for key in root_fields(contract_sdl)
        if contract_guards.get(key) != app_guards.get(key)
    }
    assert differences == {}
    assert "directive @requiresRole(roles: [Role!]!) on FIELD_DEFINITION" in app_sdl


async def test_every_guarded_field_refuses_strangers_and_the_wrong_roles(
    app: Any, client: GraphQLClient, app_sdl: str
) -> None:
    guards = guarded_fields(app_sdl)
    assert {"Query.users", "Mutation.setUserRoles", "Subscription.salesUpdated"} <= set(guards)
    nested = [key for key in guards if key.split(".")[0] not in ROOTS]
    assert nested == [], "guards below the root: teach operation() to reach them"
    sdl_schema = build_schema(app_sdl)
    admin = await make_admin(app, client)
    holder: dict[str, Account] = {
        role: await account_with_roles(client, admin, [role]) for role in ROLES
    }
    failures: list[str] = []
    tried = 0
    for key, roles in sorted(guards.items()):
        document, variables, uploads = operation(sdl_schema, key)
        field = key.split(".")[1]
        callers: list[tuple[str, str | None, str]] = [("anonymous", None, "UNAUTHENTICATED")]
        callers += [(f"only {r}", holder[r].token, "FORBIDDEN") for r in ROLES if r not in roles]
        for who, token, expected in callers:
            if key.startswith("Subscription."):
                body = await subscribe(app, document, variables, token)
            else:
                body = await post(client, document, variables, uploads, token)
            tried += 1
            wrong = problem(body, field, expected)
            if wrong:
                failures.append(f"{key} as {who}: {wrong}")
    assert failures == []
    assert tried > len(guards)
