"""reserveTickets: seats are taken all or nothing, priced by the server, once per key."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.global_ids import encode_id
from eventhub.web.app import create_app
from tests.conftest import make_settings
from tests.support.factories import RESERVE, create_event, reserve, tier_id
from tests.support.graphql import Account, GraphQLClient
from tests.support.invariant import check_invariant

SEATS = "query($id: ID!) { event(id: $id) { sold remaining ticketTypes { name sold } } }"
ORDER = """query($id: ID!) { order(id: $id) {
  status subtotal { amount } discount { amount } total { amount }
  items { quantity unitPrice { amount } } } }"""
MY_ORDERS = "{ myOrders { totalCount } }"


def at(hours: float) -> str:
    return (datetime.now(UTC) + timedelta(hours=hours)).isoformat()


def codes_of(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["errors"]]


async def seats(client: GraphQLClient, event: dict[str, Any]) -> tuple[int, dict[str, int]]:
    """(event sold, {tier name: sold}) as the public sees them."""
    seen = (await client.data(SEATS, {"id": event["id"]}))["event"]
    return seen["sold"], {t["name"]: t["sold"] for t in seen["ticketTypes"]}


async def small_event(client: GraphQLClient, organizer: Account, **extra: Any) -> dict[str, Any]:
    """Capacity 5 over tiers A (3 seats, 10.00) and B (10 seats, 20.00)."""
    tiers = [
        {"name": "A", "price": "10.00", "limit": 3},
        {"name": "B", "price": "20.00", "limit": 10},
    ]
    return await create_event(client, organizer, capacity=5, ticketTypes=tiers, **extra)


async def test_offline_payment_pays_at_once_with_one_signed_ticket_per_seat(
    client: GraphQLClient, session: AsyncSession
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    payload = await reserve(client, buyer, event, {"Early Bird": 2, "VIP": 1})
    order = payload["order"]
    assert payload["errors"] == []
    assert (order["status"], order["expiresAt"], order["promoCode"]) == ("PAID", None, None)
    assert order["payment"] == {"provider": "offline", "status": "succeeded", "clientSecret": None}
    assert [(i["ticketType"]["name"], i["quantity"], i["unitPrice"]) for i in order["items"]] == [
        ("Early Bird", 2, {"amount": "299.00"}),
        ("VIP", 1, {"amount": "599.00"}),
    ]
    assert order["subtotal"] == {"amount": "1197.00", "currency": "USD"}
    assert (order["discount"]["amount"], order["total"]["amount"]) == ("0.00", "1197.00")
    tokens = {t["qrToken"] for t in order["tickets"]}
    assert len(tokens) == 3
    assert all(tokens)
    assert {t["status"] for t in order["tickets"]} == {"VALID"}
    assert await seats(client, event) == (3, {"Early Bird": 2, "Regular": 0, "VIP": 1})
    await check_invariant(session)


async def test_prices_come_from_the_server_and_stay_as_charged(
    client: GraphQLClient, session: AsyncSession
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    lines = [{"ticketTypeId": tier_id(event, "Regular"), "quantity": 2, "unitPrice": "0.01"}]
    forged = await client.execute(
        RESERVE, {"input": {"eventId": event["id"], "items": lines}}, buyer.token
    )
    assert forged["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

    order = (await reserve(client, buyer, event, {"Regular": 2}, promoCode="group10"))["order"]
    await session.execute(text("UPDATE ticket_types SET price_minor = 1"))
    await session.commit()  # the organizer's later price change does not touch sold orders
    stored = (await client.data(ORDER, {"id": order["id"]}, buyer.token))["order"]
    assert stored == {
        "status": "PAID",
        "subtotal": {"amount": "798.00"},
        "discount": {"amount": "79.80"},
        "total": {"amount": "718.20"},
        "items": [{"quantity": 2, "unitPrice": {"amount": "399.00"}}],
    }


async def test_a_fixed_promo_applies_only_to_its_tiers(client: GraphQLClient) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    promo = {"code": "FIFTY", "kind": "FIXED", "value": "50", "ticketTypeNames": ["Regular"]}
    event = await create_event(client, organizer, promoCodes=[promo])
    order = (await reserve(client, buyer, event, {"Regular": 2, "VIP": 1}, promoCode="Fifty"))[
        "order"
    ]
    assert (order["promoCode"], order["subtotal"]["amount"]) == ("FIFTY", "1397.00")
    assert (order["discount"]["amount"], order["total"]["amount"]) == ("100.00", "1297.00")
    refused = await reserve(client, buyer, event, {"VIP": 1}, promoCode="FIFTY")
    assert (codes_of(refused), refused["order"]) == (["PROMO_INVALID"], None)
    assert await seats(client, event) == (3, {"Early Bird": 0, "Regular": 2, "VIP": 1})


@pytest.mark.parametrize(
    "window",
    [{"validFrom": at(1)}, {"validFrom": at(-2), "validUntil": at(-1)}, None],
    ids=["not yet valid", "expired", "unknown code"],
)
async def test_a_promo_outside_its_window_is_invalid_and_takes_no_seat(
    client: GraphQLClient, window: dict[str, str] | None
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    promo = {"code": "WINDOW", "kind": "PERCENT", "value": "20", **(window or {})}
    event = await create_event(client, organizer, promoCodes=[promo])
    code = "window" if window else "NOSUCHCODE"
    refused = await reserve(client, buyer, event, {"VIP": 2}, promoCode=code)
    assert (codes_of(refused), refused["order"]) == (["PROMO_INVALID"], None)
    assert await seats(client, event) == (0, {"Early Bird": 0, "Regular": 0, "VIP": 0})


async def test_max_uses_counts_orders_and_an_exhausted_code_takes_no_seat(
    client: GraphQLClient, session: AsyncSession
) -> None:
    organizer, first, second = (
        await client.register(organizer=True),
        await client.register(),
        await client.register(),
    )
    promo = {"code": "ONCE", "kind": "PERCENT", "value": "50", "maxUses": 1}
    event = await create_event(client, organizer, promoCodes=[promo])
    used = await reserve(client, first, event, {"Regular": 3}, promoCode="once")
    assert used["order"]["discount"]["amount"] == "598.50"  # three tickets, one use

    exhausted = await reserve(client, second, event, {"VIP": 1}, promoCode="ONCE")
    assert (codes_of(exhausted), exhausted["order"]) == (["PROMO_EXHAUSTED"], None)
    assert await seats(client, event) == (3, {"Early Bird": 0, "Regular": 3, "VIP": 0})
    assert (await client.data(MY_ORDERS, token=second.token))["myOrders"]["totalCount"] == 0
    await check_invariant(session)


async def test_sold_out_tier_or_event_takes_nothing(
    client: GraphQLClient, session: AsyncSession
) -> None:
    organizer, buyer, late = (
        await client.register(organizer=True),
        await client.register(),
        await client.register(),
    )
    event = await small_event(client, organizer)
    assert codes_of(await reserve(client, buyer, event, {"A": 3})) == []

    tier_full = await reserve(client, late, event, {"A": 1})
    event_full = await reserve(client, late, event, {"B": 3})  # tier has room, event has 2
    both = await reserve(client, late, event, {"A": 1, "B": 1})
    for refused in (tier_full, event_full, both):
        assert (codes_of(refused), refused["order"]) == (["SOLD_OUT"], None)
    assert await seats(client, event) == (3, {"A": 3, "B": 0})
    assert (await client.data(MY_ORDERS, token=late.token))["myOrders"]["totalCount"] == 0
    assert await session.scalar(text("SELECT COUNT(*) FROM orders")) == 1
    await session.rollback()  # end the read: SQLite's BEGIN IMMEDIATE holds the write lock

    assert codes_of(await reserve(client, late, event, {"B": 2})) == []
    assert (await client.data(SEATS, {"id": event["id"]}))["event"]["remaining"] == 0
    await check_invariant(session)


async def test_sales_are_closed_outside_a_tier_window_and_for_a_cancelled_or_past_event(
    client: GraphQLClient,
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    tiers = [
        {"name": "Soon", "price": "5", "limit": 5, "salesStartAt": at(1)},
        {"name": "Over", "price": "5", "limit": 5, "salesEndAt": at(-1)},
        {"name": "Open", "price": "5", "limit": 5, "salesStartAt": at(-1), "salesEndAt": at(1)},
    ]
    event = await create_event(client, organizer, ticketTypes=tiers, promoCodes=[])
    for tier in ("Soon", "Over"):
        assert codes_of(await reserve(client, buyer, event, {tier: 1})) == ["SALES_CLOSED"]
    assert codes_of(await reserve(client, buyer, event, {"Open": 1})) == []

    await client.data(
        "mutation($id: ID!) { cancelEvent(id: $id) { errors { code } } }",
        {"id": event["id"]},
        organizer.token,
    )
    assert codes_of(await reserve(client, buyer, event, {"Open": 1})) == ["SALES_CLOSED"]
    assert await seats(client, event) == (0, {"Soon": 0, "Over": 0, "Open": 0})

    over = await create_event(client, organizer, startsAt=at(-5), endsAt=at(-1))
    assert codes_of(await reserve(client, buyer, over, {"VIP": 1})) == ["SALES_CLOSED"]


@pytest.mark.parametrize("items", [[("VIP", 0)], [("VIP", 11)], [("VIP", 6), ("VIP", 5)], []])
async def test_quantities_must_be_1_to_10_per_tier(
    client: GraphQLClient, items: list[tuple[str, int]]
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    lines = [{"ticketTypeId": tier_id(event, name), "quantity": n} for name, n in items]
    variables = {"input": {"eventId": event["id"], "items": lines}}
    payload = (await client.data(RESERVE, variables, buyer.token))["reserveTickets"]
    assert (codes_of(payload), payload["order"]) == (["VALIDATION"], None)
    assert (await seats(client, event))[0] == 0


async def test_an_unknown_tier_or_one_of_another_event_is_not_found(
    client: GraphQLClient,
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    event, other = await create_event(client, organizer), await small_event(client, organizer)
    for tier in (tier_id(other, "A"), encode_id("TicketType", 987654), "not-an-id"):
        lines = [{"ticketTypeId": tier, "quantity": 1}]
        variables = {"input": {"eventId": event["id"], "items": lines}}
        payload = (await client.data(RESERVE, variables, buyer.token))["reserveTickets"]
        assert codes_of(payload) == ["NOT_FOUND"]
    assert (await seats(client, other))[0] == 0


async def test_the_same_idempotency_key_gives_the_same_order_and_takes_seats_once(
    client: GraphQLClient, session: AsyncSession
) -> None:
    organizer, buyer, other = (
        await client.register(organizer=True),
        await client.register(),
        await client.register(),
    )
    event = await create_event(client, organizer)
    first = await reserve(client, buyer, event, {"VIP": 2}, idempotencyKey="k-1")
    again = await reserve(client, buyer, event, {"VIP": 2}, idempotencyKey="k-1")
    assert again["order"]["id"] == first["order"]["id"]
    assert await seats(client, event) == (2, {"Early Bird": 0, "Regular": 0, "VIP": 2})

    racing = await asyncio.gather(
        *(reserve(client, buyer, event, {"Regular": 3}, idempotencyKey="k-2") for _ in range(6))
    )
    assert len({r["order"]["id"] for r in racing}) == 1
    theirs = await reserve(client, other, event, {"Regular": 1}, idempotencyKey="k-2")
    assert theirs["order"]["id"] != racing[0]["order"]["id"]  # keys are per buyer
    assert await seats(client, event) == (6, {"Early Bird": 0, "Regular": 4, "VIP": 2})
    await check_invariant(session)


async def test_a_free_order_is_paid_with_its_tickets(client: GraphQLClient) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    tiers = [{"name": "Free", "price": "0", "limit": 10}]
    event = await create_event(client, organizer, ticketTypes=tiers, promoCodes=[])
    order = (await reserve(client, buyer, event, {"Free": 2}))["order"]
    assert (order["status"], order["total"]["amount"], len(order["tickets"])) == ("PAID", "0.00", 2)


async def test_the_per_tier_maximum_is_a_setting(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_settings(database_url, tmp_path, max_tickets_per_tier=2))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            client = GraphQLClient(http)
            organizer, buyer = await client.register(organizer=True), await client.register()
            event = await create_event(client, organizer)
            assert codes_of(await reserve(client, buyer, event, {"VIP": 3})) == ["VALIDATION"]
            assert codes_of(await reserve(client, buyer, event, {"VIP": 2, "Regular": 2})) == []
