"""PaymentIntents follow their orders: a released hold's intent is cancelled at Stripe.

The hold is released first, whatever Stripe does; the cancel is tried at once
and retried by the sweeper until Stripe confirms it. An intent already
canceled counts as done; one that succeeded meanwhile follows the late-payment
rule. The official SDK talks to the fake Stripe; every test runs on SQLite and
on PostgreSQL.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import func, select

from eventhub.models import PaymentTask
from eventhub.services.hold_sweeper import settle_payments, sweep_once
from tests.support import stripe_fixtures
from tests.support.factories import create_event
from tests.support.fake_stripe import FakeStripe
from tests.support.graphql import Account, GraphQLClient
from tests.support.invariant import check_invariant
from tests.support.stripe_fixtures import hold

fake_stripe = stripe_fixtures.fake_stripe
hold_seconds = stripe_fixtures.hold_seconds
settings = stripe_fixtures.settings

ORDER = "query($id: ID!) { order(id: $id) { status tickets { status } event { sold } } }"
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { order { status } errors { code } } }"
CANCEL_EVENT = "mutation($id: ID!) { cancelEvent(id: $id) { errors { code } } }"


async def new_event(client: GraphQLClient) -> tuple[Account, dict[str, Any]]:
    organizer = await client.register(organizer=True)
    tiers = [{"name": "GA", "price": "25.00", "limit": 2}]
    event = await create_event(client, organizer, capacity=2, promoCodes=[], ticketTypes=tiers)
    return organizer, event


async def order_of(client: GraphQLClient, order_id: str, buyer: Account) -> dict[str, Any]:
    order: dict[str, Any] = (await client.data(ORDER, {"id": order_id}, buyer.token))["order"]
    return order


async def tasks_left(app: Any) -> int:
    async with app.state.eventhub.session_factory() as session:
        return int(await session.scalar(select(func.count()).select_from(PaymentTask)) or 0)


async def expire(app: Any) -> None:
    """Move the app's clock past the 1 s hold, then release it as the sweeper does."""
    state = app.state.eventhub
    state.clock.advance(1)
    assert await sweep_once(state.session_factory, state.clock) == 1


async def settle(app: Any) -> int:
    state = app.state.eventhub
    return await settle_payments(state.session_factory, state.provider)


async def invariant_holds(app: Any) -> None:
    async with app.state.eventhub.session_factory() as session:
        await check_invariant(session)


@pytest.mark.parametrize("hold_seconds", [1])
async def test_an_expired_hold_has_its_intent_cancelled_by_the_sweeper(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, hold_seconds: int
) -> None:
    buyer, order_id, intent = await hold(client, (await new_event(client))[1])
    await expire(app)

    assert await settle(app) == 1

    assert fake_stripe.intents[intent]["status"] == "canceled"
    assert await tasks_left(app) == 0
    assert await settle(app) == 0  # done once: no second call
    assert len(fake_stripe.calls("cancel_intent")) == 1
    assert (await order_of(client, order_id, buyer))["status"] == "EXPIRED"


@pytest.mark.parametrize("hold_seconds", [1])
async def test_stripe_down_never_keeps_seats_and_the_cancel_is_retried(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, hold_seconds: int
) -> None:
    buyer, order_id, intent = await hold(client, (await new_event(client))[1])
    fake_stripe.fail("cancel_intent", "server_error", times=None)
    await expire(app)

    assert await settle(app) == 0
    order = await order_of(client, order_id, buyer)
    assert (order["status"], order["event"]["sold"]) == ("EXPIRED", 0)  # released anyway
    assert fake_stripe.intents[intent]["status"] == "requires_payment_method"
    assert await tasks_left(app) == 1

    fake_stripe.clear_failures()
    assert await settle(app) == 0  # not due yet: the retry backs off
    await asyncio.sleep(2.1)
    assert await settle(app) == 1
    assert fake_stripe.intents[intent]["status"] == "canceled"
    assert await tasks_left(app) == 0
    await invariant_holds(app)


async def test_a_buyer_cancel_while_stripe_is_down_releases_the_seats_at_once(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    buyer, order_id, intent = await hold(client, (await new_event(client))[1])
    fake_stripe.stop()

    result = (await client.data(CANCEL, {"id": order_id}, buyer.token))["cancelOrder"]

    assert result == {"order": {"status": "CANCELLED"}, "errors": []}
    assert (await order_of(client, order_id, buyer))["event"]["sold"] == 0
    fake_stripe.start()
    await asyncio.sleep(2.1)
    assert await settle(app) == 1
    assert fake_stripe.intents[intent]["status"] == "canceled"


async def test_an_intent_already_canceled_at_stripe_counts_as_done(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    organizer, event = await new_event(client)
    _, _, intent = await hold(client, event)
    fake_stripe.cancel_outside(intent)

    result = await client.data(CANCEL_EVENT, {"id": event["id"]}, organizer.token)

    assert result["cancelEvent"]["errors"] == []
    [refused] = fake_stripe.calls("cancel_intent")
    assert refused.status == 400  # payment_intent_unexpected_state: then looked up, canceled
    assert await tasks_left(app) == 0
    assert await settle(app) == 0


@pytest.mark.parametrize("hold_seconds", [1])
async def test_an_intent_paid_before_its_cancel_follows_the_late_payment_rule(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, hold_seconds: int
) -> None:
    """The card went through just as the hold expired, and the webhook is still on its way."""
    buyer, order_id, intent = await hold(client, (await new_event(client))[1])
    await expire(app)
    fake_stripe.succeed(intent)

    await settle(app)

    order = await order_of(client, order_id, buyer)
    assert (order["status"], order["event"]["sold"]) == ("PAID", 2)  # seats still free: kept
    assert order["tickets"] == [{"status": "VALID"}] * 2
    assert fake_stripe.refunds == []
    assert await tasks_left(app) == 0
    late = await fake_stripe.pay(client.http, intent)  # the webhook, at last
    assert late.json()["outcome"] == "already paid"
    await invariant_holds(app)
