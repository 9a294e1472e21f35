"""Schemathesis against /graphql as every role: whatever it composes, no INTERNAL, no 5xx.

Documents come from the server's own SDL (the one `/graphql/schema.graphql` serves), one
batch per role: anonymous, customer, organizer, staff and admin, each with its own token,
so the generated operations pass the `@requiresRole` guard and reach the resolvers. IDs
are drawn from the real objects of a seeded event as often as from junk, so lookups and
mutations meet real rows. Generation is seeded per role (the same documents on every run),
bounded per operation, and separated from sending: Hypothesis draws the documents, the
test then posts each one over the real ASGI app and names the first one that broke.

Every INTERNAL this finds becomes a regression test beside its fix: the first one,
`uploadEventImage(file: "x")`, is in tests/security/test_input_bounds.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import graphql
import httpx
import hypothesis.strategies as st
import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, seed
from hypothesis import settings as hypothesis_settings
from schemathesis.graphql import nodes
from schemathesis.specs.graphql.scalars import CUSTOM_SCALARS

from eventhub.settings import Settings
from tests.conftest import make_settings
from tests.support.factories import create_event, reserve
from tests.support.graphql import Account, GraphQLClient, make_admin, make_staff

# Examples per operation and role: 31 operations x 5 roles x this, on each database.
EXAMPLES_PER_OPERATION = 20
ROLES = ("anonymous", "customer", "organizer", "staff", "admin")
DECIMALS = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False, places=2).map(str),
    st.from_regex(r"-?\d{1,30}(\.\d{1,6})?([eE][+-]?\d{1,8})?", fullmatch=True),
    st.text(max_size=12),
)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """No general rate limit: every generated document must reach the schema."""
    return make_settings(database_url, tmp_path, rate_limit="1000000/minute")


def _id_strategy(real_ids: list[str]) -> st.SearchStrategy[graphql.ValueNode]:
    junk = st.one_of(st.text(max_size=12), st.integers().map(str))
    return st.one_of(st.sampled_from(real_ids), junk).map(nodes.String)


@contextmanager
def _scalars(real_ids: list[str]) -> Iterator[None]:
    """Strategies for the scalars Schemathesis cannot guess, only while generating."""
    saved = dict(CUSTOM_SCALARS)
    schemathesis.graphql.scalar("Decimal", DECIMALS.map(nodes.String))
    schemathesis.graphql.scalar("Upload", st.text(max_size=8).map(nodes.String))
    schemathesis.graphql.scalar("ID", _id_strategy(real_ids))
    try:
        yield
    finally:
        CUSTOM_SCALARS.clear()
        CUSTOM_SCALARS.update(saved)


def generate_documents(sdl: str, real_ids: list[str], role_seed: int) -> list[str]:
    """The same bodies every run for a given seed (generate phase only, no database)."""
    schema = schemathesis.graphql.from_file(sdl)
    documents: list[str] = []
    with _scalars(real_ids):
        for result in schema.get_all_operations():
            operation = result.ok()

            @hypothesis_settings(
                max_examples=EXAMPLES_PER_OPERATION,
                database=None,
                deadline=None,
                phases=[Phase.generate],
                suppress_health_check=list(HealthCheck),
            )
            @seed(role_seed)
            @given(case=operation.as_strategy())
            def collect(case: Any) -> None:
                documents.append(case.body)

            collect()
    return documents


async def _seed(app: Any, client: GraphQLClient) -> tuple[dict[str, Account | None], list[str]]:
    """One account per role and the ids of a real event, its tiers, an order and tickets."""
    admin = await make_admin(app, client)
    organizer = await client.register(organizer=True)
    customer = await client.register()
    staff = await make_staff(app, client, admin)
    event = await create_event(client, organizer)
    order = (await reserve(client, customer, event, {"Regular": 2}))["order"]
    ids = [event["id"], order["id"], customer.id, organizer.id, staff.id]
    ids += [tier["id"] for tier in event["ticketTypes"]]
    ids += [ticket["id"] for ticket in order["tickets"]]
    accounts: dict[str, Account | None] = {
        "anonymous": None,
        "customer": customer,
        "organizer": organizer,
        "staff": staff,
        "admin": admin,
    }
    return accounts, ids


def _internal_errors(body: Any) -> list[Any]:
    """Errors a client cannot act on: INTERNAL, or an error with no code at all."""
    if not isinstance(body, dict):
        return [body]
    errors = body.get("errors") or []
    return [e for e in errors if (e.get("extensions") or {}).get("code") in (None, "INTERNAL")]


async def test_no_role_can_make_the_server_fail(app: Any, client: GraphQLClient) -> None:
    accounts, real_ids = await _seed(app, client)
    sdl = (await client.http.get("/graphql/schema.graphql")).text
    sent, limited, failures = 0, 0, []
    for role_seed, role in enumerate(ROLES):
        account = accounts[role]
        documents = generate_documents(sdl, real_ids, role_seed)
        assert len(documents) >= EXAMPLES_PER_OPERATION * 20, "too few documents were generated"
        for document in documents:
            token = account.token if account else None
            headers = {"authorization": f"Bearer {token}"} if token else {}
            response = await client.http.post("/graphql", json={"query": document}, headers=headers)
            sent += 1
            limited += response.status_code == 429
            if _broken(response):
                failures.append(
                    f"{role}: {document!r} -> {response.status_code} {response.text[:300]}"
                )
    assert sent >= len(ROLES) * EXAMPLES_PER_OPERATION * 20
    assert limited == 0, f"{limited} documents were rate limited instead of reaching the schema"
    assert not failures, f"{len(failures)} of {sent} documents broke the server:\n" + "\n".join(
        failures
    )


def _broken(response: httpx.Response) -> bool:
    """A 5xx, a body that is not JSON, or an error a client cannot act on."""
    if response.status_code >= 500:
        return True
    if not response.headers.get("content-type", "").startswith("application/"):
        return True
    return bool(_internal_errors(response.json()))
