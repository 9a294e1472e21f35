"""Nested fields are batched: a page of 100 costs the same few SQL statements as a page of 1."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from eventhub.global_ids import decode_id
from eventhub.services import audit, events
from tests.support import statements
from tests.support.factories import create_event, reserve
from tests.support.graphql import Account, GraphQLClient
from tests.support.statements import recorded_statements

quiet_app = statements.quiet_app  # an app whose sweeper stays quiet, for counting statements

EVENTS = """query($first: Int!) { events(first: $first) { edges { node {
  id name organizer { name } ticketTypes { name price { amount } } remaining } } } }"""
MY_ORDERS = """{ myOrders(first: 10) { edges { node {
  id event { name organizer { name } } items { quantity ticketType { name } }
  tickets { qrToken ticketType { name } event { id } } } } } }"""
# At most: (SQLite's BEGIN IMMEDIATE) page, then one query per nested kind (no count: not asked).
EVENT_PAGE_STATEMENTS = 5  # + organizers, tiers
ORDER_PAGE_STATEMENTS = 9  # + viewer, items, tickets, events, tiers, organizers


async def publish_events(app: Any, organizers: list[Account], count: int) -> None:
    """`count` published events, round-robin over the organizers, through the service."""
    starts = datetime.now(UTC) + timedelta(days=7)
    tiers = [
        events.NewTicketType("Standard", Decimal(25), 100),
        events.NewTicketType("VIP", Decimal(90), 10),
    ]
    async with app.state.eventhub.session_factory() as session:
        for n in range(count):
            owner = decode_id(organizers[n % len(organizers)].id, "User")
            actor = audit.Actor(owner, None, frozenset({"ORGANIZER"}))
            data = events.NewEvent(f"Event {n}", starts + timedelta(hours=n), 200, tiers)
            created = await events.create_event(session, data, actor)
            assert created.id is not None
            await events.publish_event(session, created.id, actor)


async def statements_for(app: Any, client: GraphQLClient, query: str, **kw: Any) -> list[str]:
    with recorded_statements(app) as statements:
        body = await client.data(query, kw.pop("variables", None), kw.pop("token", None))
    assert body
    return statements


async def test_a_page_of_100_events_costs_as_many_statements_as_a_page_of_1(
    quiet_app: tuple[Any, GraphQLClient],
) -> None:
    app, client = quiet_app
    organizers = [await client.register(organizer=True) for _ in range(4)]
    await publish_events(app, organizers, 1)
    one = await statements_for(app, client, EVENTS, variables={"first": 1})

    await publish_events(app, organizers, 99)
    hundred = await statements_for(app, client, EVENTS, variables={"first": 100})
    page = (await client.data(EVENTS, {"first": 100}))["events"]["edges"]
    assert len(page) == 100
    assert len({edge["node"]["organizer"]["name"] for edge in page}) == 4
    assert all(len(edge["node"]["ticketTypes"]) == 2 for edge in page)
    assert len(hundred) == len(one) <= EVENT_PAGE_STATEMENTS, hundred


async def test_nested_order_fields_are_batched_too(quiet_app: tuple[Any, GraphQLClient]) -> None:
    app, client = quiet_app
    organizers = [await client.register(organizer=True) for _ in range(3)]
    buyer = await client.register()
    shows = [await create_event(client, organizer) for organizer in organizers]
    await reserve(client, buyer, shows[0], {"VIP": 2, "Regular": 1})
    one = await statements_for(app, client, MY_ORDERS, token=buyer.token)

    for n in range(9):
        await reserve(client, buyer, shows[n % 3], {"VIP": 1, "Early Bird": 2})
    ten = await statements_for(app, client, MY_ORDERS, token=buyer.token)
    orders = (await client.data(MY_ORDERS, token=buyer.token))["myOrders"]["edges"]
    assert sum(len(edge["node"]["tickets"]) for edge in orders) == 3 + 9 * 3
    assert len(ten) == len(one) <= ORDER_PAGE_STATEMENTS, ten
