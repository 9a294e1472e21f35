"""PostgreSQL only (EXPLAIN is PostgreSQL's): no read of the API scans a large table.

Each read is sent through the API while its SQL is recorded; every statement is
then EXPLAINed with its own parameters and sequential scans priced out
(`enable_seqscan = off`), so a plan that still reads a large table from end to
end (a Seq Scan, or an index scan with no condition that no LIMIT stops) has no
index that could serve it. Analytics read the maintained figures: their whole
history and windows of whole hours are covered; a window with minutes in it
falls back to aggregating the orders and is not among these reads. A handful
of rows is enough: what is checked is that an index *can* answer, not what the
planner picks for a tiny table.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event as sa_event

from eventhub.cursors import encode_cursor
from eventhub.web.app import create_app
from tests.conftest import _truncate_postgres, make_settings, run_blocking
from tests.support.factories import create_event, reserve
from tests.support.graphql import GraphQLClient, make_admin

LARGE = ("orders", "order_items", "tickets", "audit_entries", "users", "events")


@pytest.fixture
async def pg_app(
    postgres_database: str, tmp_path: Path
) -> AsyncIterator[tuple[Any, GraphQLClient]]:
    app = create_app(make_settings(postgres_database, tmp_path, sweep_interval_seconds=3600))
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
                yield app, GraphQLClient(http)
    finally:
        run_blocking(_truncate_postgres(postgres_database))


@contextmanager
def recorded(app: Any) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []
    engine = app.state.eventhub.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            seen.append((statement, parameters))

    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)


def _scans(node: dict[str, Any], under_limit: bool = False) -> Iterator[str]:
    """Plan nodes that read a large table whole: a Seq Scan, or an index scan with no
    condition that no Limit stops early (an ordered walk to the first page is a seek)."""
    kind, table = node.get("Node Type", ""), node.get("Relation Name")
    if table in LARGE and (
        kind == "Seq Scan"
        or (
            kind in ("Index Scan", "Index Only Scan")
            and "Index Cond" not in node
            and not under_limit
        )
    ):
        yield f"{kind} on {table} ({node.get('Index Name', '')}, filter {node.get('Filter')})"
    for child in node.get("Plans", []):
        yield from _scans(child, kind == "Limit" or (under_limit and kind != "Sort"))


async def full_scans(app: Any, statements: list[tuple[str, Any]]) -> list[str]:
    """Each statement's whole-table reads, with the statement."""
    found = []
    async with app.state.eventhub.engine.connect() as connection:
        await connection.exec_driver_sql("SET enable_seqscan = off")
        for statement, parameters in statements:
            plan = await connection.exec_driver_sql(
                "EXPLAIN (FORMAT JSON) " + statement, parameters
            )
            document = plan.scalar_one()
            root = (json.loads(document) if isinstance(document, str) else document)[0]["Plan"]
            found += [f"{scan}  <-  {statement[:300]}" for scan in _scans(root)]
    return found


READS = {
    "search": '{ events(first: 20, filter: {search: "conference"}) { totalCount edges { node'
    " { id } } } }",
    "deep page": '{ events(first: 20, after: "$cursor") { edges { node { id } } } }',
    "first page": "{ events(first: 20) { totalCount edges { node { id name remaining } } } }",
    "myEvents": "{ myEvents(first: 20) { totalCount edges { node { id } } } }",
    "myOrders": "{ myOrders(first: 20) { totalCount edges { node { id status } } } }",
    "auditLog": "{ auditLog(first: 20) { edges { node { id action } } } }",
    "eventAnalytics": '{ eventAnalytics(eventId: "$event") { ticketsSold grossRevenue { amount }'
    " refunds { amount } netRevenue { amount } checkedIn capacityUtilization byTicketType"
    " { sold revenue { amount } } salesOverTime { start ticketsSold } hours: salesOverTime"
    '(bucket: "hour") { start } ageBands { label count } countries { label count }'
    " promoCodeUses { label count } } }",
    "eventAnalytics, whole hours": '{ eventAnalytics(eventId: "$event",'
    ' from: "2020-01-01T00:00:00Z", to: "2040-01-01T00:00:00Z") { ticketsSold byTicketType'
    " { sold } salesOverTime { start } promoCodeUses { label } } }",
    "organizerAnalytics": "{ organizerAnalytics { events orders ticketsSold netRevenue"
    " { amount currency } } }",
    "organizerAnalytics, whole hours": '{ organizerAnalytics(from: "2020-01-01T00:00:00Z")'
    " { events orders ticketsSold } }",
    "platformAnalytics": "{ platformAnalytics { totals { events orders ticketsSold netRevenue"
    " { amount currency } } usersByRole { label count } topEvents { event { id } ticketsSold }"
    " } }",
}


async def test_no_read_scans_a_large_table(pg_app: tuple[Any, GraphQLClient]) -> None:
    app, client = pg_app
    organizer = await client.register(organizer=True)
    buyer = await client.register()
    admin = await make_admin(app, client)
    event = await create_event(client, organizer)
    await reserve(client, buyer, event, {"Regular": 2})
    tokens = {"myEvents": organizer.token, "myOrders": buyer.token, "auditLog": admin.token}
    tokens |= {name: organizer.token for name in READS if name.startswith(("event", "organizer"))}
    tokens["platformAnalytics"] = admin.token
    first = await client.data("{ events(first: 1) { edges { node { startsAt } } } }")
    starts_at = first["events"]["edges"][0]["node"]["startsAt"]
    problems = {}
    for name, query in READS.items():
        query = query.replace("$cursor", encode_cursor("ev", starts_at, 1))
        query = query.replace("$event", event["id"])
        with recorded(app) as statements:
            await client.data(query, token=tokens.get(name))
        assert statements, name
        problems[name] = await full_scans(app, statements)
    assert problems == {name: [] for name in READS}
