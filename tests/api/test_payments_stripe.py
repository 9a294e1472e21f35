"""Paying through Stripe: reserveTickets creates a PaymentIntent, the signed webhook pays.

The official SDK talks to a fake Stripe on a real socket (tests/support/fake_stripe.py).
Every test runs on SQLite and on PostgreSQL; seats are checked as users see them
(`sold`) and by the seat-accounting invariant on what was stored.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from eventhub.global_ids import decode_id
from eventhub.models import AuditEntry
from eventhub.services.hold_sweeper import sweep_once
from tests.support import stripe_fixtures
from tests.support.factories import create_event, reserve
from tests.support.fake_stripe import FakeStripe, deliver, intent_id
from tests.support.graphql import Account, GraphQLClient
from tests.support.invariant import invariant_problems
from tests.support.stripe_fixtures import hold

# This module's tests pay through a fake Stripe (see tests/support/stripe_fixtures.py).
fake_stripe = stripe_fixtures.fake_stripe
hold_seconds = stripe_fixtures.hold_seconds
settings = stripe_fixtures.settings

ORDER = """query($id: ID!) { order(id: $id) {
  id status payment { provider status clientSecret } tickets { status } event { sold } } }"""
MY_ORDERS = "{ myOrders { edges { node { id status event { sold } } } } }"
CANCEL = """mutation($id: ID!) {
  cancelOrder(id: $id) { order { status event { sold } } errors { code } } }"""


async def new_event(
    client: GraphQLClient, currency: str = "USD", price: str = "25.00", seats: int = 2
) -> tuple[Account, dict[str, Any]]:
    organizer = await client.register(organizer=True)
    tiers = [{"name": "GA", "price": price, "limit": seats}]
    event = await create_event(
        client, organizer, capacity=seats, currency=currency, promoCodes=[], ticketTypes=tiers
    )
    return organizer, event


async def order_of(client: GraphQLClient, order_id: str, token: str) -> dict[str, Any]:
    order: dict[str, Any] = (await client.data(ORDER, {"id": order_id}, token))["order"]
    return order


async def audit_of(app: Any, order_id: str) -> list[tuple[str, int | None, dict[str, Any]]]:
    """(action, actor id, details) of the audit entries about an order, oldest first."""
    async with app.state.eventhub.session_factory() as session:
        target = str(decode_id(order_id, "Order"))
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_type == "Order", AuditEntry.target_id == target)
            .order_by(AuditEntry.id)  # type: ignore[arg-type]
        )
        return [(e.action, e.actor_id, json.loads(e.details or "{}")) for e in rows]


async def invariant_holds(app: Any) -> None:
    """tests/support/invariant.py, less its rule that a REFUNDED order keeps VOID tickets:
    a late payment refunded at once never had any."""
    async with app.state.eventhub.session_factory() as session:
        problems = await invariant_problems(session)
        await session.rollback()
    assert [p for p in problems if not p.endswith("kept 0 tickets")] == []


async def test_reserve_then_signed_webhook_pays_with_one_ticket_per_seat(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    organizer, event = await new_event(client)
    buyer = await client.register()
    payload = await reserve(client, buyer, event, {"GA": 2})
    assert payload["errors"] == []
    order = payload["order"]
    assert (order["status"], order["tickets"]) == ("PENDING", [])
    assert order["payment"]["provider"] == "stripe"
    assert order["payment"]["status"] == "requires_payment_method"
    intent = fake_stripe.intents[intent_id(order["payment"]["clientSecret"])]
    assert intent["client_secret"] == order["payment"]["clientSecret"]
    assert (intent["amount"], intent["currency"]) == (5000, "usd")
    assert intent["metadata"] == {"order_id": str(decode_id(order["id"], "Order"))}
    [create] = fake_stripe.calls("create_intent")
    assert create.params["automatic_payment_methods"] == {"enabled": "true"}
    assert create.idempotency_key
    organizer_view = await order_of(client, order["id"], organizer.token)
    assert organizer_view["payment"]["clientSecret"] is None  # the buyer's secret only

    response = await fake_stripe.pay(client.http, intent["id"])

    assert (response.status_code, response.json()["outcome"]) == (200, "paid")
    seen = await order_of(client, order["id"], buyer.token)
    assert (seen["status"], seen["payment"]["status"]) == ("PAID", "succeeded")
    assert seen["tickets"] == [{"status": "VALID"}] * 2
    assert seen["event"]["sold"] == 2
    assert ("order.paid", None, {"amount_minor": 5000}) in await audit_of(app, order["id"])
    await invariant_holds(app)


async def test_a_repeated_reservation_key_creates_one_payment_intent(
    client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    _, event = await new_event(client)
    buyer = await client.register()
    first = await reserve(client, buyer, event, {"GA": 1}, idempotencyKey="checkout-1")
    again = await reserve(client, buyer, event, {"GA": 1}, idempotencyKey="checkout-1")
    assert again["order"]["id"] == first["order"]["id"]
    assert again["order"]["payment"] == first["order"]["payment"]
    assert len(fake_stripe.intents) == 1


@pytest.mark.parametrize("trouble", ["card_declined", "server_error", "rate_limit", "unreachable"])
async def test_reserve_fails_cleanly_when_stripe_refuses_or_is_down(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, trouble: str
) -> None:
    _, event = await new_event(client)
    buyer = await client.register()
    if trouble == "unreachable":
        fake_stripe.stop()
    else:  # a decline is final; a 5xx or a 429 lasts through the SDK's own retries
        fake_stripe.fail("create_intent", trouble, times=1 if trouble == "card_declined" else None)

    payload = await reserve(client, buyer, event, {"GA": 2})

    assert payload["order"] is None
    assert [e["code"] for e in payload["errors"]] == ["PAYMENT_FAILED"]
    [edge] = (await client.data(MY_ORDERS, token=buyer.token))["myOrders"]["edges"]
    assert edge["node"]["status"] == "CANCELLED"
    assert edge["node"]["event"]["sold"] == 0
    actions = [action for action, _, _ in await audit_of(app, edge["node"]["id"])]
    assert actions == ["order.reserve", "order.payment_failed"]
    await invariant_holds(app)
    fake_stripe.clear_failures()
    if trouble == "unreachable":
        fake_stripe.start()
    assert (await reserve(client, buyer, event, {"GA": 2}))["order"]["status"] == "PENDING"


async def test_isk_is_charged_in_stripe_units(
    client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    _, event = await new_event(client, currency="ISK", price="5000")
    order = (await reserve(client, await client.register(), event, {"GA": 1}))["order"]
    assert order is not None
    assert fake_stripe.intents[intent_id(order["payment"]["clientSecret"])]["amount"] == 500000


async def test_buyer_cancelling_a_hold_cancels_the_payment_intent(
    client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    _, event = await new_event(client)
    buyer, order_id, intent = await hold(client, event)
    result = (await client.data(CANCEL, {"id": order_id}, buyer.token))["cancelOrder"]
    assert result == {"order": {"status": "CANCELLED", "event": {"sold": 0}}, "errors": []}
    assert fake_stripe.intents[intent]["status"] == "canceled"
    assert fake_stripe.refunds == []


async def expire(app: Any) -> None:
    """Let the 1 s hold run out, then run the sweeper once."""
    state = app.state.eventhub
    state.clock.advance(1)
    assert await sweep_once(state.session_factory, state.clock) == 1


@pytest.mark.parametrize("hold_seconds", [1])
async def test_a_late_payment_retakes_seats_still_free(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, hold_seconds: int
) -> None:
    buyer, order_id, intent = await hold(client, (await new_event(client))[1])
    await expire(app)
    assert (await order_of(client, order_id, buyer.token))["status"] == "EXPIRED"

    response = await fake_stripe.pay(client.http, intent)

    assert response.json()["outcome"] == "paid"
    order = await order_of(client, order_id, buyer.token)
    assert (order["status"], order["event"]["sold"]) == ("PAID", 2)
    assert order["tickets"] == [{"status": "VALID"}] * 2
    assert "order.late_payment_accepted" in [a for a, _, _ in await audit_of(app, order_id)]
    assert fake_stripe.refunds == []
    await invariant_holds(app)


async def sold_meanwhile(
    app: Any, client: GraphQLClient, fake: FakeStripe
) -> tuple[Account, str, str]:
    """An expired order whose seats another buyer has bought since."""
    _, event = await new_event(client)
    buyer, order_id, intent = await hold(client, event)
    await expire(app)
    _, _, other = await hold(client, event)
    assert (await fake.pay(client.http, other)).json()["outcome"] == "paid"
    return buyer, order_id, intent


@pytest.mark.parametrize("hold_seconds", [1])
async def test_a_late_payment_for_seats_sold_meanwhile_is_refunded_in_full(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, hold_seconds: int
) -> None:
    buyer, order_id, intent = await sold_meanwhile(app, client, fake_stripe)
    response = await fake_stripe.pay(client.http, intent)
    assert (response.status_code, response.json()["outcome"]) == (200, "refunded")
    assert [r["amount"] for r in fake_stripe.refunds_of(intent)] == [5000]
    order = await order_of(client, order_id, buyer.token)
    assert (order["status"], order["tickets"], order["event"]["sold"]) == ("REFUNDED", [], 2)
    assert "order.late_payment_refunded" in [a for a, _, _ in await audit_of(app, order_id)]
    await invariant_holds(app)


@pytest.mark.parametrize("hold_seconds", [1])
async def test_a_late_refund_stripe_refused_is_made_when_the_event_comes_again(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, hold_seconds: int
) -> None:
    buyer, order_id, intent = await sold_meanwhile(app, client, fake_stripe)
    fake_stripe.fail("create_refund", "server_error", times=None)
    fake_stripe.succeed(intent)
    event = fake_stripe.event("payment_intent.succeeded", intent)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        failed = await deliver(http, event)
    assert failed.status_code >= 500  # so that Stripe delivers the event again
    assert (await order_of(client, order_id, buyer.token))["status"] == "EXPIRED"
    fake_stripe.clear_failures()

    again = await deliver(client.http, event)

    assert again.json()["outcome"] == "refunded"
    assert len(fake_stripe.refunds_of(intent)) == 1
    await invariant_holds(app)
