"""Refunds through Stripe: cancelOrder, refundOrder and cancelEvent on paid orders.

One Stripe refund per order however often or concurrently it is asked for; when
Stripe fails nothing changes and the caller is told. The official SDK talks to a
fake Stripe on a real socket; every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from sqlalchemy import select

from eventhub.global_ids import decode_id
from eventhub.models import AuditEntry
from eventhub.services.hold_sweeper import settle_payments
from tests.support import stripe_fixtures
from tests.support.factories import create_event, reserve
from tests.support.fake_stripe import FakeStripe, intent_id
from tests.support.graphql import Account, GraphQLClient
from tests.support.invariant import check_invariant

# This module's tests pay through a fake Stripe (see tests/support/stripe_fixtures.py).
fake_stripe = stripe_fixtures.fake_stripe
hold_seconds = stripe_fixtures.hold_seconds
settings = stripe_fixtures.settings

ORDER = "query($id: ID!) { order(id: $id) { status tickets { status } event { sold } } }"
RESULT = "order { status tickets { status } event { sold } } errors { code message }"
CANCEL = f"mutation($id: ID!) {{ cancelOrder(id: $id) {{ {RESULT} }} }}"
REFUND = f'mutation($id: ID!) {{ refundOrder(id: $id, reason: "ill") {{ {RESULT} }} }}'
CANCEL_EVENT = "mutation($id: ID!) { cancelEvent(id: $id) { event { status } errors { code } } }"


async def new_event(client: GraphQLClient, seats: int = 2) -> tuple[Account, dict[str, Any]]:
    organizer = await client.register(organizer=True)
    tiers = [{"name": "GA", "price": "25.00", "limit": seats}]
    event = await create_event(client, organizer, capacity=seats, promoCodes=[], ticketTypes=tiers)
    return organizer, event


async def paid(
    client: GraphQLClient, fake: FakeStripe, event: dict[str, Any], seats: int = 2
) -> tuple[Account, str]:
    """(buyer, order id) of a new order for `seats` tickets, paid through Stripe."""
    buyer = await client.register()
    order = (await reserve(client, buyer, event, {"GA": seats}))["order"]
    response = await fake.pay(client.http, intent_id(order["payment"]["clientSecret"]))
    assert response.json()["outcome"] == "paid"
    return buyer, order["id"]


async def order_of(client: GraphQLClient, order_id: str, token: str) -> dict[str, Any]:
    order: dict[str, Any] = (await client.data(ORDER, {"id": order_id}, token))["order"]
    return order


async def audit_of(app: Any, order_id: str) -> list[tuple[str, dict[str, Any]]]:
    """(action, details) of the audit entries about an order, oldest first."""
    async with app.state.eventhub.session_factory() as session:
        target = str(decode_id(order_id, "Order"))
        rows = await session.scalars(
            select(AuditEntry)
            .where(AuditEntry.target_type == "Order", AuditEntry.target_id == target)
            .order_by(AuditEntry.id)
        )
        return [(entry.action, json.loads(entry.details or "{}")) for entry in rows]


async def invariant_holds(app: Any) -> None:
    async with app.state.eventhub.session_factory() as session:
        await check_invariant(session)


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["errors"]]


async def test_a_buyer_cancelling_a_paid_order_is_refunded_in_full_once(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    organizer, event = await new_event(client)
    buyer, order_id = await paid(client, fake_stripe, event)

    result = (await client.data(CANCEL, {"id": order_id}, buyer.token))["cancelOrder"]

    assert result["errors"] == []
    assert result["order"] == {
        "status": "REFUNDED",
        "tickets": [{"status": "VOID"}] * 2,
        "event": {"sold": 0},
    }
    [refund] = fake_stripe.refunds
    assert (refund["amount"], refund["status"]) == (5000, "succeeded")
    refunded = [details for action, details in await audit_of(app, order_id) if "refund" in action]
    assert [details["refund_id"] for details in refunded] == [refund["id"]]

    again = (await client.data(CANCEL, {"id": order_id}, buyer.token))["cancelOrder"]
    by_organizer = (await client.data(REFUND, {"id": order_id}, organizer.token))["refundOrder"]
    assert codes(again) + codes(by_organizer) == ["NOT_REFUNDABLE"] * 2
    assert len(fake_stripe.refunds) == 1
    await invariant_holds(app)


async def test_an_organizer_refund_is_audited_with_its_reason(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    organizer, event = await new_event(client)
    _, order_id = await paid(client, fake_stripe, event)
    result = (await client.data(REFUND, {"id": order_id}, organizer.token))["refundOrder"]
    assert (result["errors"], result["order"]["status"]) == ([], "REFUNDED")
    [refund] = fake_stripe.refunds
    details = dict(await audit_of(app, order_id))["order.refund"]
    assert details == {"refund_id": refund["id"], "reason": "ill", "amount_minor": 5000}


async def race_refunds(client: GraphQLClient, fake: FakeStripe) -> tuple[str, list[dict[str, Any]]]:
    """Buyer and organizer refund one paid order at once, three times each, all of them
    asking while Stripe is still answering the first; the order and the six responses."""
    organizer, event = await new_event(client)
    buyer, order_id = await paid(client, fake, event)
    fake.delay("create_refund", 0.3)
    bodies = await asyncio.gather(
        *(client.execute(CANCEL, {"id": order_id}, buyer.token) for _ in range(3)),
        *(client.execute(REFUND, {"id": order_id}, organizer.token) for _ in range(3)),
    )
    return order_id, list(bodies)


async def test_refunds_racing_for_one_order_make_one_stripe_call(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    order_id, _ = await race_refunds(client, fake_stripe)
    assert len(fake_stripe.calls("create_refund")) == 1  # claimed first: no other call
    [refund] = fake_stripe.refunds
    recorded = [d["refund_id"] for _, d in await audit_of(app, order_id) if "refund_id" in d]
    assert recorded == [refund["id"]]
    await invariant_holds(app)  # and the seats came back once


async def test_a_refund_racing_an_event_cancellation_makes_one_stripe_call(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    organizer, event = await new_event(client)
    buyer, order_id = await paid(client, fake_stripe, event)
    fake_stripe.delay("create_refund", 0.3)
    bodies = await asyncio.gather(
        client.execute(CANCEL_EVENT, {"id": event["id"]}, organizer.token),
        client.execute(CANCEL, {"id": order_id}, buyer.token),
        client.execute(REFUND, {"id": order_id}, organizer.token),
    )
    assert all("errors" not in body for body in bodies), bodies
    assert len(fake_stripe.calls("create_refund")) == 1
    [refund] = fake_stripe.refunds
    recorded = [d["refund_id"] for _, d in await audit_of(app, order_id) if "refund_id" in d]
    assert recorded == [refund["id"]]
    await invariant_holds(app)


async def test_the_loser_of_a_refund_race_sees_the_refunded_order(
    client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    for body in (await race_refunds(client, fake_stripe))[1]:
        assert "errors" not in body, body["errors"]
        [payload] = body["data"].values()
        assert (payload["errors"], payload["order"]["status"]) == ([], "REFUNDED")


async def test_cancelling_an_event_refunds_every_paid_order_once_and_releases_holds(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    organizer, event = await new_event(client, seats=3)
    orders = [await paid(client, fake_stripe, event, seats=1) for _ in range(2)]
    pending = (await reserve(client, await client.register(), event, {"GA": 1}))["order"]

    for _ in range(2):  # running it again changes nothing
        result = await client.data(CANCEL_EVENT, {"id": event["id"]}, organizer.token)
        assert result["cancelEvent"] == {"event": {"status": "CANCELLED"}, "errors": []}

    for buyer, order_id in orders:
        order = await order_of(client, order_id, buyer.token)
        assert (order["status"], order["event"]["sold"]) == ("REFUNDED", 0)
    succeeded = {i for i, intent in fake_stripe.intents.items() if intent["status"] == "succeeded"}
    assert sorted(r["payment_intent"] for r in fake_stripe.refunds) == sorted(succeeded)
    assert len(fake_stripe.calls("create_refund")) == 2
    held = await order_of(client, pending["id"], organizer.token)
    assert held["status"] == "CANCELLED"
    await invariant_holds(app)


async def test_cancelling_an_event_cancels_the_payment_intents_of_its_holds(
    client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    organizer, event = await new_event(client)
    pending = (await reserve(client, await client.register(), event, {"GA": 1}))["order"]
    await client.data(CANCEL_EVENT, {"id": event["id"]}, organizer.token)
    assert (
        fake_stripe.intents[intent_id(pending["payment"]["clientSecret"])]["status"] == "canceled"
    )


@pytest.mark.parametrize("trouble", ["server_error", "unreachable"])
async def test_a_refund_while_stripe_is_down_changes_nothing_and_can_be_retried(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe, trouble: str
) -> None:
    organizer, event = await new_event(client)
    buyer, order_id = await paid(client, fake_stripe, event)
    before = await audit_of(app, order_id)
    if trouble == "unreachable":
        fake_stripe.stop()
    else:
        fake_stripe.fail("create_refund", trouble, times=None)

    cancel = (await client.data(CANCEL, {"id": order_id}, buyer.token))["cancelOrder"]
    refund = (await client.data(REFUND, {"id": order_id}, organizer.token))["refundOrder"]
    cancel_event = await client.data(CANCEL_EVENT, {"id": event["id"]}, organizer.token)

    assert (
        codes(cancel) + codes(refund) + codes(cancel_event["cancelEvent"]) == ["PAYMENT_FAILED"] * 3
    )
    assert "did not go through" in cancel["errors"][0]["message"]
    assert await order_of(client, order_id, buyer.token) == {
        "status": "PAID",
        "tickets": [{"status": "VALID"}] * 2,
        "event": {"sold": 2},
    }
    assert fake_stripe.refunds == []
    assert await audit_of(app, order_id) == before
    await invariant_holds(app)

    fake_stripe.clear_failures()
    if trouble == "unreachable":
        fake_stripe.start()
    retry = await client.data(CANCEL_EVENT, {"id": event["id"]}, organizer.token)
    assert retry["cancelEvent"]["errors"] == []
    assert (await order_of(client, order_id, buyer.token))["status"] == "REFUNDED"
    assert len(fake_stripe.refunds) == 1


async def test_a_refund_can_be_retried_after_stripe_stored_a_server_error(
    client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    _, event = await new_event(client)
    buyer, order_id = await paid(client, fake_stripe, event)
    fake_stripe.fail("create_refund", "server_error", times=1, stored=True)
    first = (await client.data(CANCEL, {"id": order_id}, buyer.token))["cancelOrder"]
    assert codes(first) == ["PAYMENT_FAILED"]

    retry = (await client.data(CANCEL, {"id": order_id}, buyer.token))["cancelOrder"]

    assert (retry["errors"], retry["order"]["status"]) == ([], "REFUNDED")
    assert len(fake_stripe.refunds) == 1


async def test_cancelling_an_order_already_refunded_in_the_dashboard_settles_it(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    _, event = await new_event(client)
    buyer, order_id = await paid(client, fake_stripe, event)
    fake_stripe.refund_outside(next(iter(fake_stripe.intents)))

    result = (await client.data(CANCEL, {"id": order_id}, buyer.token))["cancelOrder"]

    [refund] = fake_stripe.refunds
    assert (result["errors"], result["order"]["status"]) == ([], "REFUNDED")
    recorded = [d["refund_id"] for _, d in await audit_of(app, order_id) if "refund_id" in d]
    assert recorded == [refund["id"]]  # found by listing the intent's refunds
    await invariant_holds(app)


async def test_a_refund_whose_answer_was_lost_once_is_recovered_by_the_sdk_retry(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    _, event = await new_event(client)
    buyer, order_id = await paid(client, fake_stripe, event)
    fake_stripe.drop("create_refund")  # made at Stripe, the answer lost on the way back

    result = (await client.data(CANCEL, {"id": order_id}, buyer.token))["cancelOrder"]

    assert (result["errors"], result["order"]["status"]) == ([], "REFUNDED")
    first, retry = fake_stripe.calls("create_refund")
    assert first.idempotency_key == retry.idempotency_key  # Stripe replays the stored answer
    [refund] = fake_stripe.refunds
    recorded = [d["refund_id"] for _, d in await audit_of(app, order_id) if "refund_id" in d]
    assert recorded == [refund["id"]]
    await invariant_holds(app)


async def test_a_refund_whose_answers_were_all_lost_is_found_by_the_sweeper(
    app: Any, client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    _, event = await new_event(client)
    buyer, order_id = await paid(client, fake_stripe, event)
    fake_stripe.drop("create_refund", times=3)  # the first attempt and both SDK retries

    result = (await client.data(CANCEL, {"id": order_id}, buyer.token))["cancelOrder"]

    assert codes(result) == ["PAYMENT_FAILED"]
    assert "retried automatically" in result["errors"][0]["message"]
    assert (await order_of(client, order_id, buyer.token))["status"] == "PAID"
    [refund] = fake_stripe.refunds  # it was made, though nobody heard
    await asyncio.sleep(2.1)  # the retry backs off
    state = app.state.eventhub

    assert await settle_payments(state.session_factory, state.provider) == 1

    assert await order_of(client, order_id, buyer.token) == {
        "status": "REFUNDED",
        "tickets": [{"status": "VOID"}] * 2,
        "event": {"sold": 0},
    }
    assert len(fake_stripe.calls("create_refund")) == 3  # found by listing: never made again
    assert len(fake_stripe.calls("list_refunds")) == 1
    assert len(fake_stripe.refunds) == 1
    [(action, details)] = [(a, d) for a, d in await audit_of(app, order_id) if "refund_id" in d]
    assert (action, details["refund_id"]) == ("order.cancel_refund", refund["id"])
    await invariant_holds(app)


async def test_a_refund_left_unconfirmed_is_taken_over_by_the_next_request(
    client: GraphQLClient, fake_stripe: FakeStripe
) -> None:
    organizer, event = await new_event(client)
    buyer, order_id = await paid(client, fake_stripe, event)
    fake_stripe.drop("create_refund", times=3)
    assert codes((await client.data(CANCEL, {"id": order_id}, buyer.token))["cancelOrder"]) == [
        "PAYMENT_FAILED"
    ]

    again = (await client.data(REFUND, {"id": order_id}, organizer.token))["refundOrder"]

    assert (again["errors"], again["order"]["status"]) == ([], "REFUNDED")
    assert len(fake_stripe.refunds) == 1
    assert len(fake_stripe.calls("create_refund")) == 3
