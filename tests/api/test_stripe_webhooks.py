"""POST /webhooks/stripe: signed events from the fake Stripe, replayed and out of order.

Every test runs on SQLite and on PostgreSQL; events are signed as Stripe signs
them (`t=…,v1=HMAC-SHA256(secret, "t.body")`) and verified by the official SDK.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from eventhub.global_ids import decode_id
from eventhub.models import AuditEntry, ProcessedProviderEvent
from tests.support import stripe_fixtures
from tests.support.factories import create_event
from tests.support.fake_stripe import FakeStripe, deliver, sign
from tests.support.graphql import Account, GraphQLClient
from tests.support.invariant import invariant_problems
from tests.support.stripe_fixtures import hold

# This module's tests pay through a fake Stripe (see tests/support/stripe_fixtures.py).
fake_stripe = stripe_fixtures.fake_stripe
hold_seconds = stripe_fixtures.hold_seconds
settings = stripe_fixtures.settings

ORDER = "query($id: ID!) { order(id: $id) { status tickets { status } event { sold } } }"
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { order { status } errors { code } } }"


async def new_event(client: GraphQLClient) -> dict[str, Any]:
    organizer = await client.register(organizer=True)
    tiers = [{"name": "GA", "price": "25.00", "limit": 2}]
    return await create_event(client, organizer, capacity=2, promoCodes=[], ticketTypes=tiers)


async def order_of(client: GraphQLClient, order_id: str, buyer: Account) -> dict[str, Any]:
    order: dict[str, Any] = (await client.data(ORDER, {"id": order_id}, buyer.token))["order"]
    return order


async def audit_actions(app: Any, order_id: str) -> list[str]:
    async with app.state.eventhub.session_factory() as session:
        rows = await session.scalars(
            select(AuditEntry)
            .where(
                AuditEntry.target_id == str(decode_id(order_id, "Order")),
                AuditEntry.target_type == "Order",
                AuditEntry.actor_id.is_(None),  # type: ignore[union-attr]
            )
            .order_by(AuditEntry.id)
        )
        return [entry.action for entry in rows]


async def events_recorded(app: Any) -> int:
    async with app.state.eventhub.session_factory() as session:
        return int(
            await session.scalar(select(func.count()).select_from(ProcessedProviderEvent)) or 0
        )


async def invariant_holds(app: Any) -> None:
    """The seat accounting of tests/support/invariant.py, except its rule that a REFUNDED order
    keeps its (VOID) tickets: a late payment refunded at once never had any."""
    async with app.state.eventhub.session_factory() as session:
        problems = await invariant_problems(session)
        await session.rollback()
    assert [p for p in problems if not p.endswith("kept 0 tickets")] == []


async def test_a_replayed_event_does_nothing_the_second_time(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent = await hold(client, await new_event(client))
    fake_stripe.succeed(intent)
    event = fake_stripe.event("payment_intent.succeeded", intent)
    first = await deliver(client.http, event)
    again = await deliver(client.http, event)
    other = await deliver(client.http, fake_stripe.event("payment_intent.succeeded", intent))

    assert [r.status_code for r in (first, again, other)] == [200, 200, 200]
    assert [r.json()["outcome"] for r in (first, again, other)] == [
        "paid",
        "duplicate",
        "already paid",
    ]
    order = await order_of(client, order_id, buyer)
    assert order["status"] == "PAID"
    assert len(order["tickets"]) == 2
    assert (await audit_actions(app, order_id)).count("order.paid") == 1
    await invariant_holds(app)


@pytest.mark.parametrize("late", ["payment_intent.payment_failed", "payment_intent.canceled"])
async def test_a_stale_failure_after_success_does_not_unpay(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, late: str
) -> None:
    buyer, order_id, intent = await hold(client, await new_event(client))
    stale = fake_stripe.event(late, intent)  # created first, delivered last
    await fake_stripe.pay(client.http, intent)
    response = await deliver(client.http, stale)
    assert response.status_code == 200
    assert response.json()["outcome"] == "already paid"
    order = await order_of(client, order_id, buyer)
    assert order["status"] == "PAID"
    assert order["event"]["sold"] == 2
    assert [t["status"] for t in order["tickets"]] == ["VALID", "VALID"]


def _signed(
    event: dict[str, Any], secret: str = "whsec_test", **body: Any
) -> tuple[dict[str, Any], dict[str, str]]:
    """(what is sent, headers) with a signature over `event`, and the body changed by `body`."""
    header = sign(json.dumps(event, indent=2), secret, body.pop("timestamp", None))
    sent = json.loads(json.dumps(event))
    sent["data"]["object"].update(body)
    return sent, {"stripe-signature": header}


UNVERIFIABLE = {
    "wrong-secret": lambda e: _signed(e, "whsec_wrong"),
    "stale": lambda e: _signed(e, timestamp=int(time.time()) - 301),
    "tampered": lambda e: _signed(e, amount=1),
    "missing": lambda e: (e, {}),
    "malformed": lambda e: (e, {"stripe-signature": "t=abc,v1=zz"}),
}


@pytest.mark.parametrize("case", list(UNVERIFIABLE))
async def test_an_unverifiable_delivery_is_refused_and_changes_nothing(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, case: str
) -> None:
    buyer, order_id, intent = await hold(client, await new_event(client))
    fake_stripe.succeed(intent)
    event = fake_stripe.event("payment_intent.succeeded", intent)
    sent, headers = UNVERIFIABLE[case](event)
    refused = await deliver(client.http, sent, headers=headers)
    assert refused.status_code == 400
    assert (await order_of(client, order_id, buyer))["status"] == "PENDING"
    assert await events_recorded(app) == 0
    genuine = await deliver(client.http, event)  # the same event, signed properly
    assert genuine.status_code == 200
    assert genuine.json()["outcome"] == "paid"


async def test_an_event_for_an_unknown_order_is_acknowledged(
    client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent = await hold(client, await new_event(client))
    event = fake_stripe.event("payment_intent.succeeded", fake_stripe.succeed(intent)["id"])
    event["data"]["object"].update(id="pi_unknown", metadata={"order_id": "999999"})
    response = await deliver(client.http, event)
    assert response.status_code == 200
    assert response.json()["outcome"] == "unknown order"
    assert (await order_of(client, order_id, buyer))["status"] == "PENDING"


async def test_a_payment_of_another_intent_does_not_pay_our_order(
    client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    """Every endpoint of a Stripe account gets every event of the account: a staging
    deployment's order 1 is paid with metadata order_id=1 too."""
    buyer, order_id, intent = await hold(client, await new_event(client))
    event = fake_stripe.event("payment_intent.succeeded", intent)
    event["data"]["object"].update(id="pi_of_another_deployment", status="succeeded", amount=100)
    assert (await deliver(client.http, event)).status_code == 200
    assert (await order_of(client, order_id, buyer))["status"] == "PENDING"


async def test_a_payment_cancelled_at_stripe_releases_the_hold(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent = await hold(client, await new_event(client))
    fake_stripe.cancel_outside(intent)
    response = await deliver(client.http, fake_stripe.event("payment_intent.canceled", intent))
    assert response.status_code == 200
    assert response.json()["outcome"] == "hold released"
    order = await order_of(client, order_id, buyer)
    assert order["status"] == "CANCELLED"
    assert order["event"]["sold"] == 0
    assert order["tickets"] == []
    assert "order.cancel" in await audit_actions(app, order_id)
    await invariant_holds(app)


async def test_a_declined_card_keeps_the_hold_so_the_buyer_can_retry_the_same_intent(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    """On Stripe payment_failed is not final: the buyer may retry the same intent."""
    buyer, order_id, intent = await hold(client, await new_event(client))
    fake_stripe.decline(intent)
    failed = await deliver(client.http, fake_stripe.event("payment_intent.payment_failed", intent))
    assert failed.json()["outcome"] == "hold kept for a retry"
    held = await order_of(client, order_id, buyer)
    assert (held["status"], held["event"]["sold"]) == ("PENDING", 2)

    response = await fake_stripe.pay(client.http, intent)

    assert response.json()["outcome"] == "paid"
    assert fake_stripe.refunds_of(intent) == []
    assert fake_stripe.calls("cancel_intent") == []
    order = await order_of(client, order_id, buyer)
    assert (order["status"], order["tickets"]) == ("PAID", [{"status": "VALID"}] * 2)
    await invariant_holds(app)


@pytest.mark.parametrize("with_list", [True, False], ids=["refund-list", "no-refund-list"])
async def test_a_full_refund_in_the_dashboard_refunds_the_order(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, with_list: bool
) -> None:
    buyer, order_id, intent = await hold(client, await new_event(client))
    await fake_stripe.pay(client.http, intent)
    fake_stripe.refund_outside(intent)
    event = fake_stripe.event("charge.refunded", intent, include_refunds=with_list)
    response = await deliver(client.http, event)
    assert response.status_code == 200
    assert response.json()["outcome"] == "refunded"
    order = await order_of(client, order_id, buyer)
    assert order["status"] == "REFUNDED"
    assert order["event"]["sold"] == 0
    assert [t["status"] for t in order["tickets"]] == ["VOID", "VOID"]
    assert "order.refund_external" in await audit_actions(app, order_id)
    await invariant_holds(app)


async def test_a_partial_refund_changes_nothing_until_the_rest_is_refunded(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent = await hold(client, await new_event(client))
    await fake_stripe.pay(client.http, intent)
    fake_stripe.refund_outside(intent, amount=1000)
    partial = await deliver(client.http, fake_stripe.event("charge.refunded", intent))
    assert partial.json()["outcome"] == "partial refund ignored"
    order = await order_of(client, order_id, buyer)
    assert order["status"] == "PAID"
    assert order["event"]["sold"] == 2
    assert [t["status"] for t in order["tickets"]] == ["VALID", "VALID"]
    fake_stripe.refund_outside(intent)
    rest = await deliver(client.http, fake_stripe.event("charge.refunded", intent))
    assert rest.json()["outcome"] == "refunded"
    assert (await order_of(client, order_id, buyer))["status"] == "REFUNDED"
    await invariant_holds(app)


async def test_the_echo_of_our_own_refund_gives_no_seat_back_twice(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent = await hold(client, await new_event(client))
    await fake_stripe.pay(client.http, intent)
    cancelled = await client.data(CANCEL, {"id": order_id}, buyer.token)
    assert cancelled["cancelOrder"]["order"]["status"] == "REFUNDED"
    echo = await deliver(client.http, fake_stripe.event("charge.refunded", intent))
    assert echo.json()["outcome"] == "already refunded"
    assert (await order_of(client, order_id, buyer))["event"]["sold"] == 0
    await invariant_holds(app)


async def test_the_echo_arriving_before_our_refund_answer_leaves_it_to_the_refund(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    """Stripe's charge.refunded can overtake the answer to our own refund call."""
    buyer, order_id, intent = await hold(client, await new_event(client))
    await fake_stripe.pay(client.http, intent)
    fake_stripe.delay("create_refund", 0.5)  # refunded at once, answered late
    cancelling = asyncio.create_task(client.data(CANCEL, {"id": order_id}, buyer.token))
    while not fake_stripe.refunds:  # noqa: ASYNC110 (the fake runs in another thread)
        await asyncio.sleep(0.01)

    echo = await deliver(client.http, fake_stripe.event("charge.refunded", intent))
    cancelled = await cancelling

    assert echo.json()["outcome"] == "already paid"  # the claimant records it, not the echo
    assert cancelled["cancelOrder"]["order"]["status"] == "REFUNDED"
    assert "order.refund_external" not in await audit_actions(app, order_id)
    async with app.state.eventhub.session_factory() as session:
        entries = await session.scalars(
            select(AuditEntry).where(AuditEntry.action == "order.cancel_refund")
        )
        [entry] = list(entries)
    assert json.loads(entry.details or "{}")["refund_id"] == fake_stripe.refunds[0]["id"]
    await invariant_holds(app)
