"""`eventhub payments reconcile` lists payments that do not match their order, never applies them.

Two ways to find one: the order's own intent now carries another amount or currency
(whether or not its webhook came), and a `payment.mismatch` the webhook audited, which
may name an intent the order never had. Both databases.
"""

from __future__ import annotations

from typing import Any

from eventhub.services.payments.stripe.reconcile import Mismatch
from eventhub.settings import Settings
from tests.services.test_reconciliation import eventhub_cli, held, order_of, run_reconcile
from tests.support import stripe_fixtures
from tests.support.fake_stripe import FakeStripe, deliver
from tests.support.graphql import GraphQLClient

fake_stripe = stripe_fixtures.fake_stripe
hold_seconds = stripe_fixtures.hold_seconds
settings = stripe_fixtures.settings


async def test_a_changed_intent_paid_without_its_webhook_is_reported_not_applied(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent, number = await held(client)  # 50.00 USD: 5000
    await held(client)  # agrees with Stripe: not listed
    fake_stripe.update_outside(intent, amount=100)
    fake_stripe.succeed(intent)

    expected = Mismatch(
        number, "PENDING", "succeeded", "report only: amount_received 100 instead of 5000 USD"
    )
    assert await run_reconcile(app, fix=False) == [expected]
    assert await run_reconcile(app, fix=True) == [expected]  # --fix leaves it to a human
    order = await order_of(client, order_id, buyer)
    assert (order["status"], order["tickets"]) == ("PENDING", [])


async def test_a_changed_intent_not_yet_paid_is_reported(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    _, _, intent, number = await held(client)
    fake_stripe.update_outside(intent, currency="eur")
    assert await run_reconcile(app, fix=True) == [
        Mismatch(
            number, "PENDING", "requires_payment_method", "report only: currency EUR instead of USD"
        )
    ]


async def test_a_mismatch_the_webhook_refused_is_listed_once(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    """The changed intent's event was audited; reconcile lists the order once, not twice."""
    _, _, intent, number = await held(client)
    fake_stripe.update_outside(intent, amount=1, currency="jpy")
    assert (await fake_stripe.pay(client.http, intent)).json()["outcome"] == "mismatch"
    [found] = await run_reconcile(app, fix=False)
    assert (found.order_id, found.ours, found.stripe) == (number, "PENDING", "succeeded")
    assert found.action == "report only: currency JPY instead of USD"


async def test_another_intent_claiming_the_order_is_listed_from_the_audit(
    app: Any, settings: Settings, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    """The order's own intent agrees with it; only the audit knows another one tried."""
    _, _, intent, number = await held(client)
    event = fake_stripe.event("payment_intent.succeeded", intent)
    paid = {"id": "pi_of_someone_else", "status": "succeeded", "amount_received": 5000}
    event["data"]["object"].update(paid)
    assert (await deliver(client.http, event)).json()["outcome"] == "mismatch"

    [found] = await run_reconcile(app, fix=True)
    assert (found.order_id, found.ours, found.stripe) == (number, "PENDING", "succeeded")
    assert "pi_of_someone_else is not the order's" in found.action
    assert found.action.startswith("report only: ")

    code, output = await eventhub_cli(settings, "payments", "reconcile")
    assert code == 0, output
    assert f"order {number}: ours PENDING, stripe succeeded -> report only: " in output
    assert "[payment_intent.succeeded of pi_of_someone_else]" in output
    assert "1 orders disagree with Stripe" in output
