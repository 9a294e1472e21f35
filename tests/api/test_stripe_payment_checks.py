"""A Stripe event pays an order only with the order's own intent for exactly its total.

Intents are changed at the fake Stripe as someone holding the secret key (or the
Dashboard) could before the buyer pays; the signed events are then the ones Stripe
would send. A mismatch changes nothing, is audited as `payment.mismatch` and answers
200 (it is not Stripe's to retry). A signed body that is not an event answers 400
with a reason, never 500. Both databases.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import select

from eventhub.global_ids import decode_id
from eventhub.models import AuditEntry, ProcessedProviderEvent
from tests.support import stripe_fixtures
from tests.support.factories import create_event, reserve
from tests.support.fake_stripe import FakeStripe, deliver, intent_id, sign
from tests.support.graphql import Account, GraphQLClient
from tests.support.invariant import invariant_problems

fake_stripe = stripe_fixtures.fake_stripe
hold_seconds = stripe_fixtures.hold_seconds
settings = stripe_fixtures.settings

ORDER = "query($id: ID!) { order(id: $id) { status tickets { status } event { sold } } }"


async def held(
    client: GraphQLClient, currency: str = "USD", price: str = "25.00"
) -> tuple[Account, str, str]:
    """(buyer, order id, intent id) of a PENDING order for two seats at `price`."""
    organizer = await client.register(organizer=True)
    tiers = [{"name": "GA", "price": price, "limit": 2}]
    event = await create_event(
        client, organizer, capacity=2, currency=currency, promoCodes=[], ticketTypes=tiers
    )
    buyer = await client.register()
    order = (await reserve(client, buyer, event, {"GA": 2}))["order"]
    assert order["status"] == "PENDING"
    return buyer, order["id"], intent_id(order["payment"]["clientSecret"])


async def order_of(client: GraphQLClient, order_id: str, buyer: Account) -> dict[str, Any]:
    order: dict[str, Any] = (await client.data(ORDER, {"id": order_id}, buyer.token))["order"]
    return order


async def audit_of(app: Any, order_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with app.state.eventhub.session_factory() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.target_type == "Order",
                AuditEntry.target_id == str(decode_id(order_id, "Order")),
            )
            .order_by(AuditEntry.id)  # type: ignore[arg-type]
        )
        return [(e.action, json.loads(e.details or "{}")) for e in rows]


async def invariant_holds(app: Any) -> None:
    async with app.state.eventhub.session_factory() as session:
        assert await invariant_problems(session) == []
        await session.rollback()


async def assert_untouched(app: Any, client: GraphQLClient, order_id: str, buyer: Account) -> None:
    """Still PENDING, seats still held, no ticket, and one payment.mismatch entry."""
    order = await order_of(client, order_id, buyer)
    assert order == {"status": "PENDING", "tickets": [], "event": {"sold": 2}}
    actions = [action for action, _ in await audit_of(app, order_id)]
    assert actions == ["order.reserve", "payment.mismatch"]
    await invariant_holds(app)


# How an intent comes to differ from its order (a 50.00 USD order, 5000 in Stripe's units).
CHANGED: dict[str, Callable[[FakeStripe, str], None]] = {
    "amount lowered": lambda fake, pi: fake.update_outside(pi, amount=100),
    "amount raised": lambda fake, pi: fake.update_outside(pi, amount=5001),
    "currency changed": lambda fake, pi: fake.update_outside(pi, currency="eur"),
    "1 JPY": lambda fake, pi: fake.update_outside(pi, amount=1, currency="jpy"),
}


@pytest.mark.parametrize("change", list(CHANGED))
async def test_a_payment_of_another_amount_or_currency_does_not_pay(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, change: str
) -> None:
    buyer, order_id, intent = await held(client)
    CHANGED[change](fake_stripe, intent)
    response = await fake_stripe.pay(client.http, intent)
    assert (response.status_code, response.json()["outcome"]) == (200, "mismatch")
    await assert_untouched(app, client, order_id, buyer)
    [(_, details)] = [d for d in await audit_of(app, order_id) if d[0] == "payment.mismatch"]
    paid = fake_stripe.intents[intent]
    assert details["payment_intent"] == intent
    assert (details["amount_received"], details["currency"]) == (paid["amount"], paid["currency"])
    assert (details["expected_amount"], details["expected_currency"]) == (5000, "usd")


async def test_a_35_eur_order_paid_with_1_jpy_stays_unpaid(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent = await held(client, "EUR", "17.50")
    assert fake_stripe.intents[intent]["amount"] == 3500
    fake_stripe.update_outside(intent, amount=1, currency="jpy")
    assert (await fake_stripe.pay(client.http, intent)).json()["outcome"] == "mismatch"
    await assert_untouched(app, client, order_id, buyer)


async def test_a_partly_received_amount_does_not_pay(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    """`amount_received`, not `amount`, is what a succeeded intent took."""
    buyer, order_id, intent = await held(client)
    fake_stripe.succeed(intent)
    event = fake_stripe.event("payment_intent.succeeded", intent)
    event["data"]["object"]["amount_received"] = 100
    assert (await deliver(client.http, event)).json()["outcome"] == "mismatch"
    await assert_untouched(app, client, order_id, buyer)


async def test_another_intent_naming_the_order_does_not_pay_it(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    """The right amount and currency, and metadata order_id pointing at us: still not ours."""
    buyer, order_id, intent = await held(client)
    event = fake_stripe.event("payment_intent.succeeded", fake_stripe.succeed(intent)["id"])
    event["data"]["object"]["id"] = "pi_of_someone_else"
    response = await deliver(client.http, event)
    assert (response.status_code, response.json()["outcome"]) == (200, "mismatch")
    await assert_untouched(app, client, order_id, buyer)


@pytest.mark.parametrize("kind", ["payment_intent.payment_failed", "payment_intent.canceled"])
async def test_a_failure_of_a_changed_intent_does_not_release_the_hold(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, kind: str
) -> None:
    """Before success the intent's `amount` is compared: a changed intent is not ours to act on."""
    buyer, order_id, intent = await held(client)
    fake_stripe.update_outside(intent, amount=100)
    (fake_stripe.decline if kind.endswith("failed") else fake_stripe.cancel_outside)(intent)
    response = await deliver(client.http, fake_stripe.event(kind, intent))
    assert (response.status_code, response.json()["outcome"]) == (200, "mismatch")
    await assert_untouched(app, client, order_id, buyer)


# (currency, tier price, the order's 2-seat total in Stripe's minor units, a wrong scale)
CURRENCIES = [
    ("JPY", "2500", 5000, 500000),  # zero-decimal: yen as they are
    ("KRW", "15000", 30000, 3000000),
    ("BHD", "12.500", 25000, 2500),  # three-decimal: thousandths
    ("KWD", "3.250", 6500, 650),
    ("ISK", "5000", 1000000, 10000),  # zero-decimal, two-decimal at Stripe's API
]


@pytest.mark.parametrize(("currency", "price", "total", "wrong"), CURRENCIES)
async def test_minor_units_follow_the_currency(
    app: Any,
    client: GraphQLClient,
    fake_stripe: FakeStripe,
    currency: str,
    price: str,
    total: int,
    wrong: int,
) -> None:
    buyer, order_id, intent = await held(client, currency, price)
    assert fake_stripe.intents[intent]["amount"] == total
    fake_stripe.update_outside(intent, amount=wrong)  # a two-decimal mistake
    assert (await fake_stripe.pay(client.http, intent)).json()["outcome"] == "mismatch"
    await assert_untouched(app, client, order_id, buyer)

    buyer, order_id, intent = await held(client, currency, price)
    assert (await fake_stripe.pay(client.http, intent)).json()["outcome"] == "paid"
    assert (await order_of(client, order_id, buyer))["status"] == "PAID"


def _event(fake: FakeStripe, intent: str) -> dict[str, Any]:
    return fake.event("payment_intent.succeeded", intent)


def _without(path: str) -> Callable[[FakeStripe, str], Any]:
    def body(fake: FakeStripe, intent: str) -> Any:
        event = _event(fake, intent)
        *parents, last = path.split(".")
        node = event
        for part in parents:
            node = node[part]
        del node[last]
        return event

    return body


def _with(path: str, value: Any) -> Callable[[FakeStripe, str], Any]:
    def body(fake: FakeStripe, intent: str) -> Any:
        event = _event(fake, intent)
        *parents, last = path.split(".")
        node = event
        for part in parents:
            node = node[part]
        node[last] = value
        return event

    return body


# Signed bodies that are not Stripe events: (build the body, a word the reason must contain)
NOT_EVENTS: dict[str, tuple[Callable[[FakeStripe, str], Any], str]] = {
    "a JSON array": (lambda fake, pi: [_event(fake, pi)], "array"),
    "a JSON string": (lambda fake, pi: "payment_intent.succeeded", "string"),
    "a number": (lambda fake, pi: 42, "number"),
    "no type": (_without("type"), "type"),
    "no id": (_without("id"), "id"),
    "no data": (_without("data"), "data.object"),
    "no data.object": (_without("data.object"), "data.object"),
    "data.object a string": (_with("data.object", "pi_123"), "data.object"),
    "data.object null": (_with("data.object", None), "data.object"),
    "an intent without id": (_without("data.object.id"), "id"),
    "an amount as text": (_with("data.object.amount_received", "5000"), "amount_received"),
    "metadata a string": (_with("data.object.metadata", "order_id=1"), "metadata"),
    "type a number": (_with("type", 7), "type"),
}


@pytest.mark.parametrize("shape", list(NOT_EVENTS))
async def test_a_signed_body_that_is_not_an_event_is_refused_with_a_reason(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, shape: str
) -> None:
    buyer, order_id, intent = await held(client)
    fake_stripe.succeed(intent)
    build, word = NOT_EVENTS[shape]
    payload = json.dumps(build(fake_stripe, intent))
    headers = {"content-type": "application/json", "stripe-signature": sign(payload)}
    response = await client.http.post("/webhooks/stripe", content=payload, headers=headers)

    assert response.status_code == 400
    reason = response.json()["error"]
    assert reason.startswith("not a Stripe event: ")
    assert word in reason
    assert (await order_of(client, order_id, buyer))["status"] == "PENDING"
    async with app.state.eventhub.session_factory() as session:
        assert (await session.scalars(select(ProcessedProviderEvent))).all() == []


NOT_JSON = [
    (b"{not json", "not a Stripe event: the body is not JSON"),
    (b"\xff\xfe{}", "signature verification failed"),  # not UTF-8: nothing to verify
]


@pytest.mark.parametrize(("body", "reason"), NOT_JSON)
async def test_a_body_that_is_not_json_is_refused_with_a_reason(
    client: GraphQLClient, fake_stripe: FakeStripe, body: bytes, reason: str
) -> None:
    signature = sign(body.decode("utf-8", "replace"))
    headers = {"content-type": "application/json", "stripe-signature": signature}
    response = await client.http.post("/webhooks/stripe", content=body, headers=headers)
    assert response.status_code == 400
    assert response.json()["error"].startswith(reason)
