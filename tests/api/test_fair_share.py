"""Fair share: an event's maxPerCustomer bounds the seats one account holds for it."""

from __future__ import annotations

from typing import Any

from tests.support.factories import create_event, reserve
from tests.support.graphql import GraphQLClient

SHARE = "id maxPerCustomer"
UPDATE = f"""mutation($id: ID!, $input: UpdateEventInput!) {{
  updateEvent(id: $id, input: $input) {{ event {{ {SHARE} }} errors {{ code field }} }} }}"""
READ = f"query($id: ID!) {{ event(id: $id) {{ {SHARE} }} }}"


async def _update(
    client: GraphQLClient, token: str, event_id: str, **changes: Any
) -> dict[str, Any]:
    payload: dict[str, Any] = (
        await client.data(UPDATE, {"id": event_id, "input": changes}, token)
    )["updateEvent"]
    return payload


async def test_the_cap_is_set_at_creation_changed_cleared_and_read_back(
    client: GraphQLClient,
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, maxPerCustomer=4)
    read = await client.data(READ, {"id": event["id"]})
    assert read["event"]["maxPerCustomer"] == 4

    lowered = await _update(client, organizer.token, event["id"], maxPerCustomer=2)
    assert lowered == {"event": {"id": event["id"], "maxPerCustomer": 2}, "errors": []}
    renamed = await _update(client, organizer.token, event["id"], name="Still capped")
    assert renamed["event"]["maxPerCustomer"] == 2  # omitted: left alone
    cleared = await _update(client, organizer.token, event["id"], maxPerCustomer=None)
    assert cleared["event"]["maxPerCustomer"] is None  # explicit null: no cap

    refused = await _update(client, organizer.token, event["id"], maxPerCustomer=0)
    assert refused == {"event": None, "errors": [{"code": "VALIDATION", "field": "maxPerCustomer"}]}
    assert (await client.data(READ, {"id": event["id"]}))["event"]["maxPerCustomer"] is None


async def test_an_event_without_a_cap_reads_null(client: GraphQLClient) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer)
    assert (await client.data(READ, {"id": event["id"]}))["event"]["maxPerCustomer"] is None


CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { order { status } errors { code } } }"


async def test_one_account_cannot_hold_more_than_the_cap_and_gets_it_back_on_cancel(
    client: GraphQLClient,
) -> None:
    organizer, buyer, other = (
        await client.register(organizer=True),
        await client.register(),
        await client.register(),
    )
    event = await create_event(client, organizer, maxPerCustomer=3)
    first = await reserve(client, buyer, event, {"Regular": 2})
    assert first["errors"] == []
    over = await reserve(client, buyer, event, {"Regular": 1, "VIP": 1})
    assert [e["code"] for e in over["errors"]] == ["LIMIT_EXCEEDED"]
    assert (await reserve(client, other, event, {"Regular": 3}))["errors"] == []  # per account

    cancelled = await client.data(CANCEL, {"id": first["order"]["id"]}, buyer.token)
    assert cancelled["cancelOrder"]["errors"] == []
    again = await reserve(client, buyer, event, {"Regular": 3})
    assert again["errors"] == []
    seats = await client.data(
        READ.replace("maxPerCustomer", "maxPerCustomer sold"), {"id": event["id"]}
    )
    assert seats["event"]["sold"] == 6
