"""`node(id)`: every Node type answers through the one table in schema/nodes.py, only to
those allowed to see it; anything else (not ours, gone, an unknown type) is null."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from eventhub.global_ids import encode_id
from eventhub.schema.nodes import NODE_TYPES
from eventhub.settings import Settings
from tests.conftest import make_settings
from tests.support.factories import create_event, reserve
from tests.support.graphql import GraphQLClient, make_admin

NODE = "query($id: ID!) { node(id: $id) { __typename id } }"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    """The outbox routes at once: a webhook delivery must exist to be looked up."""
    return make_settings(database_url, tmp_path, outbox_poll_seconds=0.05)


async def test_each_node_type_is_found_by_those_allowed_and_hidden_from_others(
    app: Any, client: GraphQLClient
) -> None:
    organizer, buyer, stranger = (
        await client.register(organizer=True),
        await client.register(),
        await client.register(),
    )
    admin = await make_admin(app, client)
    hook = await client.data(CREATE_HOOK, {}, organizer.token)
    event = await create_event(client, organizer)
    draft = await create_event(client, organizer, publish=False)
    order = (await reserve(client, buyer, event, {"Regular": 1}))["order"]
    audit = await client.data("{ auditLog(first: 1) { edges { node { id } } } }", {}, admin.token)
    endpoint_id = hook["createWebhookEndpoint"]["endpoint"]["id"]
    delivery_id = await _first_delivery(client, organizer.token)
    cases = {
        "User": (buyer.id, [buyer, admin], [stranger, None]),
        "Event": (draft["id"], [organizer, admin], [stranger, None]),  # public once published
        "TicketType": (draft["ticketTypes"][0]["id"], [organizer, admin], [buyer, None]),
        "Order": (order["id"], [buyer, organizer, admin], [stranger, None]),
        "Ticket": (order["tickets"][0]["id"], [buyer, organizer, admin], [stranger, None]),
        "AuditEntry": (audit["auditLog"]["edges"][0]["node"]["id"], [admin], [organizer, None]),
        "WebhookEndpoint": (endpoint_id, [organizer, admin], [stranger, None]),
        "WebhookDelivery": (delivery_id, [organizer, admin], [buyer, None]),
    }
    assert set(cases) == set(NODE_TYPES)
    for public in (event["id"], event["ticketTypes"][0]["id"]):
        assert (await client.data(NODE, {"id": public}, None))["node"]["id"] == public
    for type_name, (global_id, allowed, denied) in cases.items():
        for who in allowed:
            seen = await client.data(NODE, {"id": global_id}, who.token)
            assert seen["node"] == {"__typename": type_name, "id": global_id}, (type_name, who)
        for other in denied:
            seen = await client.data(NODE, {"id": global_id}, other.token if other else None)
            assert seen["node"] is None, (type_name, other)


async def test_ids_that_name_nothing_are_null(app: Any, client: GraphQLClient) -> None:
    admin = await make_admin(app, client)
    for global_id in [
        *(encode_id(type_name, 999_999) for type_name in NODE_TYPES),
        encode_id("PromoCode", 1),
        "not-an-id",
    ]:
        assert (await client.data(NODE, {"id": global_id}, admin.token))["node"] is None


CREATE_HOOK = """mutation { createWebhookEndpoint(input: {url: "https://hooks.example.com/n",
  eventTypes: [EVENT_PUBLISHED]}) { endpoint { id } } }"""
DELIVERIES = "{ webhookEndpoints { edges { node { deliveries { edges { node { id } } } } } } }"


async def _first_delivery(client: GraphQLClient, token: str) -> str:
    """The id of the endpoint's first delivery, once the outbox routed the message."""
    for _ in range(200):
        [edge] = (await client.data(DELIVERIES, {}, token))["webhookEndpoints"]["edges"]
        found = edge["node"]["deliveries"]["edges"]
        if found:
            return str(found[-1]["node"]["id"])
        await asyncio.sleep(0.05)
    raise AssertionError("the published event was never routed to the endpoint")
