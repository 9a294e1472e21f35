"""GET /metrics: Prometheus text that counts what the API did.

Counters live in one registry per process and every test of the run adds to
them, so each test reads the numbers before and after what it does and checks
the difference.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample

from eventhub.metrics import LATENCY_BUCKETS
from tests.support.factories import create_event, reserve
from tests.support.graphql import Account, GraphQLClient

EVENT = "query Probe($id: ID!) { event(id: $id) { name } }"
MY_ORDERS = "{ myOrders { totalCount } }"
VALIDATE = """mutation($id: ID!, $token: String!) {
  validateTicket(eventId: $id, token: $token) { outcome } }"""
FAMILIES = {
    "eventhub_http_requests": "counter",
    "eventhub_http_request_seconds": "histogram",
    "eventhub_graphql_operations": "counter",
    "eventhub_graphql_operation_seconds": "histogram",
    "eventhub_bookings": "counter",
    "eventhub_sold_outs": "counter",
    "eventhub_validations": "counter",
    "eventhub_subscriptions_open": "gauge",
    "eventhub_bus_lag_seconds": "histogram",
}


class Scrape:
    """One parsed /metrics answer."""

    def __init__(self, text: str) -> None:
        self.families = {family.name: family for family in text_string_to_metric_families(text)}
        self.samples: list[Sample] = [s for f in self.families.values() for s in f.samples]

    def value(self, name: str, **labels: str) -> float:
        """The sample with exactly these labels; 0 when it was never touched."""
        found = [s.value for s in self.samples if s.name == name and s.labels == labels]
        assert len(found) <= 1, found
        return found[0] if found else 0.0

    def label_values(self, name: str, label: str) -> set[str]:
        return {s.labels[label] for s in self.samples if s.name == name and label in s.labels}

    def buckets(self, name: str, **labels: str) -> dict[str, float]:
        """{le: cumulative count} of one histogram series."""
        return {
            s.labels["le"]: s.value
            for s in self.samples
            if s.name == f"{name}_bucket" and {**labels, "le": s.labels.get("le")} == s.labels
        }


async def scrape(client: GraphQLClient) -> Scrape:
    response = await client.http.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return Scrape(response.text)


def operations(scrape: Scrape, operation: str, kind: str, outcome: str) -> float:
    return scrape.value(
        "eventhub_graphql_operations_total", operation=operation, type=kind, outcome=outcome
    )


async def test_metrics_is_prometheus_text_with_every_eventhub_family(
    client: GraphQLClient,
) -> None:
    seen = await scrape(client)
    assert {name: seen.families[name].type for name in FAMILIES} == FAMILIES
    for family in FAMILIES:
        assert seen.families[family].documentation  # HELP text for the dashboards


async def test_a_graphql_operation_is_counted_and_timed_under_its_root_fields(
    client: GraphQLClient,
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer)
    before = await scrape(client)

    for _ in range(3):
        await client.data(EVENT, {"id": event["id"]})
    refused = await client.execute(MY_ORDERS)  # anonymous: UNAUTHENTICATED
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    two_fields = "{ me { id } events(first: 1) { totalCount } }"
    await client.data(two_fields, token=organizer.token)
    after = await scrape(client)

    # labelled by root field, not by the client's operation name ("Probe")
    assert (
        operations(after, "event", "query", "ok") - operations(before, "event", "query", "ok") == 3
    )
    assert "Probe" not in after.label_values("eventhub_graphql_operations_total", "operation")
    assert operations(after, "myOrders", "query", "error") == (
        operations(before, "myOrders", "query", "error") + 1
    )
    # several root fields: "other" (a label per combination would be unbounded)
    assert operations(after, "other", "query", "ok") == (
        operations(before, "other", "query", "ok") + 1
    )
    http = {"method": "POST", "route": "/graphql", "status": "200"}
    assert after.value("eventhub_http_requests_total", **http) == (
        before.value("eventhub_http_requests_total", **http) + 5
    )

    latency = {"operation": "event", "type": "query"}
    count = "eventhub_graphql_operation_seconds_count"
    assert after.value(count, **latency) == before.value(count, **latency) + 3
    buckets = after.buckets("eventhub_graphql_operation_seconds", **latency)
    assert list(buckets) == [*(str(float(b)) for b in LATENCY_BUCKETS), "+Inf"]
    counts = list(buckets.values())
    assert counts == sorted(counts)  # cumulative
    assert counts[-1] == after.value(count, **latency)
    assert after.value("eventhub_graphql_operation_seconds_sum", **latency) > 0
    http_buckets = after.buckets("eventhub_http_request_seconds", method="POST", route="/graphql")
    assert http_buckets["+Inf"] == after.value(
        "eventhub_http_request_seconds_count", method="POST", route="/graphql"
    )


async def test_bookings_are_counted_by_outcome_and_sold_outs_on_their_own(
    client: GraphQLClient,
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    tiers = [{"name": "Only", "price": "5.00", "limit": 2}]
    event = await create_event(client, organizer, capacity=2, ticketTypes=tiers, promoCodes=[])
    before = await scrape(client)

    assert (await reserve(client, buyer, event, {"Only": 2}))["order"]["status"] == "PAID"
    for _ in range(2):
        refused = await reserve(client, buyer, event, {"Only": 1})
        assert [e["code"] for e in refused["errors"]] == ["SOLD_OUT"]
    invalid = await reserve(client, buyer, event, {"Only": 1}, promoCode="NOPE")
    assert [e["code"] for e in invalid["errors"]] == ["PROMO_INVALID"]
    after = await scrape(client)

    def grew(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert grew("eventhub_bookings_total", outcome="OK") == 1  # the PAID order
    assert grew("eventhub_bookings_total", outcome="SOLD_OUT") == 2
    assert grew("eventhub_bookings_total", outcome="PROMO_INVALID") == 1
    assert grew("eventhub_sold_outs_total") == 2
    reserve_ops = ("reserveTickets", "mutation", "ok")  # payload errors are not GraphQL errors
    assert operations(after, *reserve_ops) - operations(before, *reserve_ops) == 4


async def test_validations_are_counted_by_outcome(app: Any, client: GraphQLClient) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    token = (await reserve(client, buyer, event, {"VIP": 1}))["order"]["tickets"][0]["qrToken"]
    before = await scrape(client)

    for scanned, expected in [(token, "VALID"), (token, "ALREADY_USED"), ("junk", "INVALID")]:
        variables = {"id": event["id"], "token": scanned}
        seen = await client.data(VALIDATE, variables, organizer.token)
        assert seen["validateTicket"]["outcome"] == expected
    after = await scrape(client)

    for outcome in ("VALID", "ALREADY_USED", "INVALID"):
        name = "eventhub_validations_total"
        assert after.value(name, outcome=outcome) == before.value(name, outcome=outcome) + 1


async def test_invented_field_names_do_not_become_label_values(client: GraphQLClient) -> None:
    invented = [f"x{uuid.uuid4().hex}" for _ in range(3)]
    for name in invented:
        body = await client.execute(f"{{ {name} }}")
        assert body["errors"]
    labels = (await scrape(client)).label_values("eventhub_graphql_operations_total", "operation")
    assert labels.isdisjoint(invented), labels & set(invented)


async def test_the_operation_that_ran_is_the_one_counted(client: GraphQLClient) -> None:
    document = "query A { me { id } } query B { events(first: 1) { totalCount } }"
    before = await scrape(client)
    response = await client.http.post("/graphql", json={"query": document, "operationName": "B"})
    assert response.json() == {"data": {"events": {"totalCount": 0}}}
    after = await scrape(client)
    grew = {
        field: operations(after, field, "query", "ok") - operations(before, field, "query", "ok")
        for field in ("events", "me")
    }
    assert grew == {"events": 1, "me": 0}


# ---------------------------------------------------------------- subscriptions


class AsgiWebSocket:
    """Just enough of a WebSocket client to hold a subscription open against the ASGI app
    in this event loop (httpx's ASGI transport speaks HTTP only)."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.outbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> None:
        scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "scheme": "ws",
            "path": "/graphql",
            "raw_path": b"/graphql",
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"testserver"),
                (b"sec-websocket-protocol", b"graphql-transport-ws"),
            ],
            "subprotocols": ["graphql-transport-ws"],
            "client": ("203.0.113.9", 5555),
            "server": ("testserver", 80),
        }
        self.task = asyncio.create_task(self.app(scope, self.inbox.get, self.outbox.put))
        await self.inbox.put({"type": "websocket.connect"})
        assert (await self._next())["type"] == "websocket.accept"

    async def _next(self) -> dict[str, Any]:
        return await asyncio.wait_for(self.outbox.get(), timeout=5)

    async def send(self, message: dict[str, Any]) -> None:
        await self.inbox.put({"type": "websocket.receive", "text": json.dumps(message)})

    async def receive(self) -> dict[str, Any]:
        sent = await self._next()
        assert sent["type"] == "websocket.send", sent
        message: dict[str, Any] = json.loads(sent["text"])
        return message

    async def close(self) -> None:
        await self.inbox.put({"type": "websocket.disconnect", "code": 1000})
        if self.task is not None:
            await asyncio.wait_for(self.task, timeout=5)


@asynccontextmanager
async def websocket(app: Any) -> AsyncIterator[AsgiWebSocket]:
    socket = AsgiWebSocket(app)
    await socket.open()
    try:
        yield socket
    finally:
        await socket.close()


async def open_subscriptions(client: GraphQLClient, field: str) -> float:
    return (await scrape(client)).value("eventhub_subscriptions_open", field=field)


async def settled(client: GraphQLClient, field: str, expected: float) -> float:
    """The gauge once it reaches `expected` (a closed subscription ends asynchronously)."""
    deadline = time.monotonic() + 5
    while (seen := await open_subscriptions(client, field)) != expected:
        if time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.05)
    return seen


async def test_the_open_subscriptions_gauge_follows_live_subscriptions(
    app: Any, client: GraphQLClient
) -> None:
    organizer: Account = await client.register(organizer=True)
    event = await create_event(client, organizer)
    baseline = await open_subscriptions(client, "capacityChanged")
    subscribe = {
        "id": "1",
        "type": "subscribe",
        "payload": {
            "query": "subscription($id: ID!) { capacityChanged(eventId: $id) { sold } }",
            "variables": {"id": event["id"]},
        },
    }
    async with websocket(app) as socket:
        await socket.send({"type": "connection_init", "payload": {}})
        assert (await socket.receive())["type"] == "connection_ack"
        await socket.send(subscribe)
        first = await socket.receive()
        assert (first["type"], first["payload"]) == (
            "next",
            {"data": {"capacityChanged": {"sold": 0}}},
        )
        assert await open_subscriptions(client, "capacityChanged") == baseline + 1

        await socket.send({"id": "1", "type": "complete"})
        assert await settled(client, "capacityChanged", baseline) == baseline
