"""`reconcile` and `eventhub payments reconcile`: orders that disagree with Stripe after lost
webhooks are found, and with --fix repaired the way the webhook would have done it.

Orders are made through the API; Stripe is the fake one, changed behind EventHub's back
(the buyer's card, the Dashboard) without sending the webhook. Both databases.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from eventhub.global_ids import decode_id
from eventhub.services.hold_sweeper import sweep_once
from eventhub.services.payments.stripe.reconcile import Mismatch, reconcile
from eventhub.settings import Settings
from tests.conftest import TEST_SECRET, TEST_TICKET_KEY
from tests.support import stripe_fixtures
from tests.support.factories import create_event, reserve
from tests.support.fake_stripe import SECRET_KEY, WEBHOOK_SECRET, FakeStripe, intent_id
from tests.support.graphql import Account, GraphQLClient

# This module's tests pay through a fake Stripe (see tests/support/stripe_fixtures.py).
fake_stripe = stripe_fixtures.fake_stripe
hold_seconds = stripe_fixtures.hold_seconds
settings = stripe_fixtures.settings

ORDER = "query($id: ID!) { order(id: $id) { status tickets { status } event { sold } } }"


async def held(client: GraphQLClient) -> tuple[Account, str, str, int]:
    """(buyer, order id, PaymentIntent id, order number) of a PENDING order on a new event."""
    organizer = await client.register(organizer=True)
    tiers = [{"name": "GA", "price": "25.00", "limit": 2}]
    event = await create_event(client, organizer, capacity=2, promoCodes=[], ticketTypes=tiers)
    buyer = await client.register()
    order = (await reserve(client, buyer, event, {"GA": 2}))["order"]
    number = decode_id(order["id"], "Order")
    assert number is not None
    return buyer, order["id"], intent_id(order["payment"]["clientSecret"]), number


async def run_reconcile(app: Any, fix: bool, since: datetime | None = None) -> list[Mismatch]:
    state = app.state.eventhub
    async with state.session_factory() as session:
        return await reconcile(session, state.provider, since, fix)


async def order_of(client: GraphQLClient, order_id: str, buyer: Account) -> dict[str, Any]:
    order: dict[str, Any] = (await client.data(ORDER, {"id": order_id}, buyer.token))["order"]
    return order


async def test_a_payment_whose_webhook_was_lost_is_reported_then_fixed(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent, number = await held(client)
    await held(client)  # unpaid and agreeing with Stripe: not listed
    fake_stripe.succeed(intent)

    assert await run_reconcile(app, fix=False) == [
        Mismatch(number, "PENDING", "succeeded", "apply payment")
    ]
    assert (await order_of(client, order_id, buyer))["status"] == "PENDING"

    assert await run_reconcile(app, fix=True) == [
        Mismatch(number, "PENDING", "succeeded", "fixed: paid")
    ]
    order = await order_of(client, order_id, buyer)
    assert order["status"] == "PAID"
    assert order["event"]["sold"] == 2
    assert [t["status"] for t in order["tickets"]] == ["VALID", "VALID"]
    assert await run_reconcile(app, fix=True) == []


async def test_a_hold_cancelled_at_stripe_is_released(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent, number = await held(client)
    fake_stripe.cancel_outside(intent)
    assert await run_reconcile(app, fix=True) == [
        Mismatch(number, "PENDING", "canceled", "fixed: hold released")
    ]
    order = await order_of(client, order_id, buyer)
    assert order["status"] == "CANCELLED"
    assert order["event"]["sold"] == 0


@pytest.mark.parametrize("hold_seconds", [1])
async def test_a_lost_late_payment_retakes_the_free_seats(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, hold_seconds: int
) -> None:
    buyer, order_id, intent, number = await held(client)
    state = app.state.eventhub
    state.clock.advance(1)
    assert await sweep_once(state.session_factory, state.clock) == 1
    fake_stripe.succeed(intent)
    assert await run_reconcile(app, fix=True) == [
        Mismatch(number, "EXPIRED", "succeeded", "fixed: paid")
    ]
    order = await order_of(client, order_id, buyer)
    assert order["status"] == "PAID"
    assert order["event"]["sold"] == 2
    assert fake_stripe.refunds == []


async def test_a_paid_order_stripe_does_not_confirm_is_only_reported(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent, number = await held(client)
    await fake_stripe.pay(client.http, intent)
    fake_stripe.intents[intent]["status"] = "requires_payment_method"  # say, a reversed capture
    assert await run_reconcile(app, fix=True) == [
        Mismatch(number, "PAID", "requires_payment_method", "report only")
    ]
    assert (await order_of(client, order_id, buyer))["status"] == "PAID"
    assert fake_stripe.refunds == []


async def test_since_leaves_older_orders_alone(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, old_intent, _ = await held(client)
    since = datetime.now(UTC)
    _, _, new_intent, number = await held(client)
    fake_stripe.succeed(old_intent)
    fake_stripe.succeed(new_intent)
    assert [m.order_id for m in await run_reconcile(app, fix=True, since=since)] == [number]
    assert (await order_of(client, order_id, buyer))["status"] == "PENDING"


async def test_a_refund_made_in_the_dashboard_whose_webhook_was_lost_is_reported(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    _, _, intent, number = await held(client)
    await fake_stripe.pay(client.http, intent)
    fake_stripe.refund_outside(intent)
    assert [m.order_id for m in await run_reconcile(app, fix=False)] == [number]


async def eventhub_cli(settings: Settings, *args: str) -> tuple[int, str]:
    """Run the installed `eventhub` command on the test's database and fake Stripe."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("EVENTHUB_")}
    env.update(
        EVENTHUB_DATABASE_URL=settings.database_url,
        EVENTHUB_SECRET_KEY=TEST_SECRET,
        EVENTHUB_TICKET_SIGNING_KEY=TEST_TICKET_KEY,
        EVENTHUB_PAYMENT_PROVIDER="stripe",
        EVENTHUB_STRIPE_SECRET_KEY=SECRET_KEY,
        EVENTHUB_STRIPE_WEBHOOK_SECRET=WEBHOOK_SECRET,
        EVENTHUB_STRIPE_API_BASE=settings.stripe_api_base,
        EVENTHUB_LOG_LEVEL="WARNING",
    )
    command = Path(sys.executable).with_name("eventhub")
    process = await asyncio.create_subprocess_exec(
        str(command),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return int(process.returncode or 0), output.decode()


async def test_the_reconcile_command_lists_then_fixes_a_lost_payment(
    settings: Settings, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent, number = await held(client)
    fake_stripe.succeed(intent)

    code, output = await eventhub_cli(settings, "payments", "reconcile")
    assert code == 0, output
    assert f"order {number}: ours PENDING, stripe succeeded -> apply payment" in output
    assert "1 orders disagree with Stripe" in output
    assert (await order_of(client, order_id, buyer))["status"] == "PENDING"

    code, output = await eventhub_cli(
        settings, "payments", "reconcile", "--fix", "--since", "2000-01-01T00:00:00"
    )
    assert code == 0, output
    assert f"order {number}: ours PENDING, stripe succeeded -> fixed: paid" in output
    order = await order_of(client, order_id, buyer)
    assert order["status"] == "PAID"
    assert len(order["tickets"]) == 2
