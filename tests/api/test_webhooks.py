"""Organizers manage webhook endpoints through GraphQL; the delivery log shows every attempt."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from eventhub.settings import Settings
from tests.support.accounts import top_level_code
from tests.support.factories import create_event, reserve
from tests.support.graphql import GraphQLClient
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhooks import outbox_settings

ENDPOINT = "id url eventTypes enabled disabledReason previousSecretExpiresAt event { id }"
CREATE = f"""mutation($input: CreateWebhookEndpointInput!) {{
  createWebhookEndpoint(input: $input) {{
    endpoint {{ {ENDPOINT} }} secret errors {{ code field }} }}
}}"""
UPDATE = f"""mutation($id: ID!, $input: UpdateWebhookEndpointInput!) {{
  updateWebhookEndpoint(id: $id, input: $input) {{ endpoint {{ {ENDPOINT} }} errors {{ code }} }}
}}"""
ROTATE = f"""mutation($id: ID!) {{
  rotateWebhookSecret(id: $id) {{ endpoint {{ {ENDPOINT} }} secret errors {{ code }} }}
}}"""
DISABLE = f"""mutation($id: ID!) {{
  disableWebhookEndpoint(id: $id) {{ endpoint {{ {ENDPOINT} }} errors {{ code }} }}
}}"""
DELETE = "mutation($id: ID!) { deleteWebhookEndpoint(id: $id) { deletedId errors { code } } }"
LIST = f"""query {{ webhookEndpoints(first: 3) {{ totalCount edges {{ node {{ {ENDPOINT}
  deliveries(first: 5) {{ edges {{ node {{ id webhookId eventType status attemptCount payload
    attempts {{ statusCode latencyMs responseExcerpt error }} }} }} }} }} }} }} }}"""
REDELIVER = """mutation($id: ID!) { redeliverWebhook(deliveryId: $id) {
  delivery { id webhookId status } errors { code } } }"""


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return outbox_settings(database_url, tmp_path)


async def _deliveries(client: GraphQLClient, token: str, count: int) -> list[dict[str, Any]]:
    for _ in range(200):
        [edge] = (await client.data(LIST, token=token))["webhookEndpoints"]["edges"]
        found = [e["node"] for e in edge["node"]["deliveries"]["edges"]]
        if len(found) >= count and all(d["status"] != "PENDING" for d in found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries: {found}")


async def test_an_organizer_manages_an_endpoint_and_reads_its_delivery_log(
    app: Any, client: GraphQLClient, receiver: WebhookReceiver
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(
        client,
        organizer,
        promoCodes=[],
        capacity=5,
        ticketTypes=[{"name": "GA", "price": "5.00", "limit": 5}],
    )
    url = receiver.base_url + "/gql"
    created = (
        await client.data(
            CREATE,
            {"input": {"url": url, "eventTypes": ["ORDER_PAID"], "eventId": event["id"]}},
            organizer.token,
        )
    )["createWebhookEndpoint"]
    assert created["errors"] == []
    assert created["secret"].startswith("whsec_")
    endpoint = created["endpoint"]
    assert (endpoint["url"], endpoint["eventTypes"], endpoint["event"]) == (
        url,
        ["ORDER_PAID"],
        {"id": event["id"]},
    )
    receiver.expect("/gql", created["secret"])
    receiver.plan("/gql", "500")

    buyer = await client.register()
    order = (await reserve(client, buyer, event, {"GA": 1}))["order"]
    for _ in range(200):
        nodes = (await client.data(LIST, token=organizer.token))["webhookEndpoints"]["edges"]
        deliveries = nodes[0]["node"]["deliveries"]["edges"]
        if deliveries and deliveries[0]["node"]["attempts"]:
            break
        await asyncio.sleep(0.05)
    delivery = deliveries[0]["node"]
    assert delivery["eventType"] == "order.paid"
    assert order["id"] in delivery["payload"]
    assert delivery["attempts"][0]["statusCode"] == 500
    assert delivery["attempts"][0]["responseExcerpt"] == "answer 500"

    again = await client.data(REDELIVER, {"id": delivery["id"]}, organizer.token)
    assert again["redeliverWebhook"]["errors"] == []
    [done] = await _deliveries(client, organizer.token, 1)
    assert done["status"] == "DELIVERED"
    assert [a["statusCode"] for a in done["attempts"]] == [500, 204]
    got = await receiver.arrived(1, "/gql")
    assert {r.webhook_id for r in got} == {delivery["webhookId"]}

    rotated = (await client.data(ROTATE, {"id": endpoint["id"]}, organizer.token))[
        "rotateWebhookSecret"
    ]
    assert rotated["secret"] != created["secret"]
    assert rotated["endpoint"]["previousSecretExpiresAt"] is not None
    changed = (
        await client.data(
            UPDATE,
            {"id": endpoint["id"], "input": {"allEvents": True, "eventTypes": ["EVENT_SOLD_OUT"]}},
            organizer.token,
        )
    )["updateWebhookEndpoint"]
    assert changed["endpoint"]["event"] is None
    assert changed["endpoint"]["eventTypes"] == ["EVENT_SOLD_OUT"]
    disabled = (await client.data(DISABLE, {"id": endpoint["id"]}, organizer.token))[
        "disableWebhookEndpoint"
    ]
    assert disabled["endpoint"]["enabled"] is False
    gone = await client.data(DELETE, {"id": endpoint["id"]}, organizer.token)
    assert gone["deleteWebhookEndpoint"]["deletedId"] == endpoint["id"]
    listed = (await client.data(LIST, token=organizer.token))["webhookEndpoints"]
    assert listed["totalCount"] == 0


async def test_strangers_learn_nothing_and_customers_are_refused(
    app: Any, client: GraphQLClient
) -> None:
    owner = await client.register(organizer=True)
    other = await client.register(organizer=True)
    customer = await client.register()
    created = (
        await client.data(
            CREATE,
            {"input": {"url": "https://hooks.example.com/in", "eventTypes": ["EVENT_UPDATED"]}},
            owner.token,
        )
    )["createWebhookEndpoint"]
    endpoint_id = created["endpoint"]["id"]
    for query in (ROTATE, DISABLE, DELETE):
        body = await client.data(query, {"id": endpoint_id}, other.token)
        [payload] = body.values()
        assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]
    assert (await client.data(LIST, token=other.token))["webhookEndpoints"]["totalCount"] == 0
    refused = await client.execute(LIST, token=customer.token)
    assert top_level_code(refused) == "FORBIDDEN"
    bad = (
        await client.data(
            CREATE, {"input": {"url": "ftp://x/", "eventTypes": ["ORDER_PAID"]}}, owner.token
        )
    )["createWebhookEndpoint"]
    assert bad["errors"] == [{"code": "VALIDATION", "field": "input.url"}]
    assert bad["secret"] is None


NODE = """query($id: ID!) { node(id: $id) { id ... on WebhookEndpoint { url } } }"""


async def test_node_finds_an_endpoint_for_its_organizer_only(
    app: Any, client: GraphQLClient
) -> None:
    owner = await client.register(organizer=True)
    other = await client.register(organizer=True)
    created = (
        await client.data(
            CREATE,
            {"input": {"url": "https://hooks.example.com/n", "eventTypes": ["ORDER_PAID"]}},
            owner.token,
        )
    )["createWebhookEndpoint"]["endpoint"]
    found = (await client.data(NODE, {"id": created["id"]}, owner.token))["node"]
    assert found == {"id": created["id"], "url": "https://hooks.example.com/n"}
    assert (await client.data(NODE, {"id": created["id"]}, other.token))["node"] is None
