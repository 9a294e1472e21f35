"""/metrics cannot be grown by strangers, nor read by them when a token is set.

Labels come only from names the server knows: the one root field an operation
selects, or a trusted document's operation name. Invented operation names,
unknown fields and combinations of root fields all count as `other`.
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import httpx

from eventhub.services import trusted_documents
from eventhub.web.app import create_app
from tests.api.test_metrics import Scrape, scrape
from tests.conftest import make_settings
from tests.support.graphql import GraphQLClient

OPERATIONS = "eventhub_graphql_operations_total"


def labels(scraped: Scrape) -> set[str]:
    return scraped.label_values(OPERATIONS, "operation")


async def test_only_known_names_become_operation_labels(app: Any, client: GraphQLClient) -> None:
    invented = [f"Op{uuid.uuid4().hex}" for _ in range(3)]
    before = await scrape(client)
    for name in invented:
        await client.data(f"query {name} {{ events(first: 1) {{ totalCount }} }}")
        await client.execute(f"query {name} {{ {name.lower()} }}")  # an unknown field
    await client.data("{ a: events(first: 1) { totalCount } me { id } }")  # two root fields
    await client.data("{ __typename }")
    trusted = "query TrustedEvents { events(first: 2) { totalCount } }"
    async with app.state.eventhub.session_factory() as session:
        await trusted_documents.add_documents(
            session, {hashlib.sha256(trusted.encode()).hexdigest(): trusted}
        )
    digest = hashlib.sha256(trusted.encode()).hexdigest()
    by_id = await client.http.post("/graphql", json={"documentId": f"sha256:{digest}"})
    assert by_id.json() == {"data": {"events": {"totalCount": 0}}}
    after = await scrape(client)

    seen = labels(after)
    assert seen.isdisjoint(invented)
    assert seen.isdisjoint(n.lower() for n in invented)
    assert "TrustedEvents" in seen  # the operator's manifest names it
    grew = after.value(OPERATIONS, operation="events", type="query", outcome="ok") - before.value(
        OPERATIONS, operation="events", type="query", outcome="ok"
    )
    assert grew == 3  # the invented names counted under the root field
    other = sum(
        after.value(OPERATIONS, operation="other", type="query", outcome=o)
        - before.value(OPERATIONS, operation="other", type="query", outcome=o)
        for o in ("ok", "error")
    )
    assert other == 3 + 1 + 1  # unknown fields, two root fields, __typename


async def test_a_metrics_token_is_required_when_set(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(database_url, tmp_path, metrics_token="m" + "x1y2z3" * 6))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            missing = await http.get("/metrics")
            wrong = await http.get("/metrics", headers={"authorization": "Bearer nope"})
            right = await http.get(
                "/metrics", headers={"authorization": "Bearer " + "m" + "x1y2z3" * 6}
            )
    for refused in (missing, wrong):
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        assert "eventhub_" not in refused.text
    assert right.status_code == 200
    assert "eventhub_http_requests_total" in right.text
