"""One-line factories for events and bookings through the public API."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.support.graphql import Account, GraphQLClient

EVENT_FIELDS = """
  id name status capacity sold remaining currency
  ticketTypes { id name price { amount currency } limit sold remaining }
"""
CREATE_EVENT = f"""
mutation($input: CreateEventInput!) {{
  createEvent(input: $input) {{ event {{ {EVENT_FIELDS} }} errors {{ code message field }} }}
}}"""
PUBLISH = "mutation($id: ID!) { publishEvent(id: $id) { event { id status } errors { code } } }"
ORDER_FIELDS = """
  id status promoCode expiresAt
  subtotal { amount currency } discount { amount } total { amount }
  items { quantity unitPrice { amount } ticketType { id name } }
  payment { provider status clientSecret }
  tickets { id status qrToken }
"""
RESERVE = f"""
mutation($input: ReserveTicketsInput!) {{
  reserveTickets(input: $input) {{ order {{ {ORDER_FIELDS} }} errors {{ code message field }} }}
}}"""


def conference_input(**overrides: Any) -> dict[str, Any]:
    """The contract's seed example: capacity 500, three tiers, EARLY25 and GROUP10."""
    starts = datetime.now(UTC) + timedelta(days=30)
    data: dict[str, Any] = {
        "name": "PyCon Test",
        "startsAt": starts.isoformat(),
        "endsAt": (starts + timedelta(days=2)).isoformat(),
        "capacity": 500,
        "currency": "USD",
        "ticketTypes": [
            {"name": "Early Bird", "price": "299.00", "limit": 100},
            {"name": "Regular", "price": "399.00", "limit": 300},
            {"name": "VIP", "price": "599.00", "limit": 50},
        ],
        "promoCodes": [
            {"code": "EARLY25", "kind": "PERCENT", "value": "25", "maxUses": 100},
            {"code": "GROUP10", "kind": "PERCENT", "value": "10"},
        ],
    }
    data.update(overrides)
    return data


async def create_event(
    client: GraphQLClient, organizer: Account, *, publish: bool = True, **overrides: Any
) -> dict[str, Any]:
    payload = (
        await client.data(CREATE_EVENT, {"input": conference_input(**overrides)}, organizer.token)
    )["createEvent"]
    assert payload["errors"] == [], payload["errors"]
    event: dict[str, Any] = payload["event"]
    if publish:
        published = (await client.data(PUBLISH, {"id": event["id"]}, organizer.token))[
            "publishEvent"
        ]
        assert published["errors"] == []
        event["status"] = "PUBLISHED"
    return event


def tier_id(event: dict[str, Any], name: str) -> str:
    return next(t["id"] for t in event["ticketTypes"] if t["name"] == name)


async def reserve(
    client: GraphQLClient,
    buyer: Account,
    event: dict[str, Any],
    items: dict[str, int],
    **extra: Any,
) -> dict[str, Any]:
    """The reserveTickets payload for {tier name: quantity}."""
    lines = [{"ticketTypeId": tier_id(event, name), "quantity": n} for name, n in items.items()]
    variables = {"input": {"eventId": event["id"], "items": lines, **extra}}
    result: dict[str, Any] = (await client.data(RESERVE, variables, buyer.token))["reserveTickets"]
    return result
