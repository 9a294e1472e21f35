"""Outbox to webhook endpoint: messages written with their change, delivered signed, retried.

Real app (its lifespan runs the deliverer), a real local receiver that verifies
every signature with `standardwebhooks`; both databases.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from eventhub.models import OutboxMessage, WebhookEndpoint
from eventhub.services import outbox, webhook_log, webhooks
from eventhub.settings import Settings
from tests.support.factories import create_event, reserve
from tests.support.graphql import GraphQLClient
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhooks import (
    actor_of,
    add_endpoint,
    attempts,
    attempts_when,
    deliveries,
    delivery_when,
    make_due,
    messages,
    outbox_settings,
    payload_of,
)

SMALL = {"capacity": 2, "ticketTypes": [{"name": "GA", "price": "10.00", "limit": 2}]}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return outbox_settings(database_url, tmp_path)


async def test_a_paid_order_arrives_signed_with_global_ids(
    app: Any, client: GraphQLClient, session: Any, receiver: WebhookReceiver
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, promoCodes=[], **SMALL)
    endpoint_id, secret = await add_endpoint(
        app, organizer, receiver.expect("/hook", "x"), ["order.paid"]
    )
    receiver.expect("/hook", secret)
    buyer = await client.register()
    order = (await reserve(client, buyer, event, {"GA": 1}))["order"]

    got = await receiver.arrived(1, "/hook")
    assert [r.verified for r in got] == [True]
    body = got[0].payload
    assert body["type"] == "order.paid"
    assert body["data"]["order"]["id"] == order["id"]
    assert body["data"]["order"]["event"]["id"] == event["id"]
    assert body["data"]["order"]["buyer"]["id"] == buyer.id
    assert body["data"]["order"]["total"] == "10.00"
    paid = await messages(session, "order.paid")
    assert [m.uid for m in paid] == [got[0].webhook_id]
    assert got[0].headers["webhook-signature"].startswith("v1,")
    [delivery] = await delivery_when(
        session, endpoint_id, lambda d: bool(d) and d[0].status != "PENDING"
    )
    assert (delivery.status, delivery.attempts) == ("DELIVERED", 1)
    [attempt] = await attempts(session, endpoint_id)
    assert attempt.status_code == 204
    assert attempt.latency_ms >= 0


async def test_a_failed_attempt_is_retried_later_with_the_same_id(
    app: Any, client: GraphQLClient, session: Any, receiver: WebhookReceiver
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, promoCodes=[], **SMALL)
    endpoint_id, secret = await add_endpoint(
        app, organizer, receiver.base_url + "/flaky", ["order.paid"]
    )
    receiver.expect("/flaky", secret)
    receiver.plan("/flaky", "500", "redirect")
    buyer = await client.register()
    await reserve(client, buyer, event, {"GA": 1})  # order.paid, not yet sold out

    first = datetime.now(UTC)
    [delivery] = await delivery_when(
        session, endpoint_id, lambda d: bool(d) and d[0].last_error is not None
    )
    assert delivery.status == "PENDING"
    assert delivery.last_error == "HTTP 500"
    wait = delivery.next_attempt_at - first
    assert timedelta(seconds=5) < wait <= timedelta(seconds=16)  # jittered, within 30 s
    await make_due(session)
    [delivery] = await delivery_when(
        session, endpoint_id, lambda d: bool(d) and d[0].last_error != "HTTP 500"
    )
    assert delivery.last_error == "HTTP 302"  # a redirect is not followed: not delivered
    await make_due(session)
    await delivery_when(session, endpoint_id, lambda d: bool(d) and d[0].status == "DELIVERED")
    got = await receiver.arrived(1, "/flaky")
    assert [r.answered for r in got] == ["500", "redirect", "ok"]
    assert len({r.webhook_id for r in got}) == 1
    assert not receiver.at("/flaky/moved")
    codes = [a.status_code for a in await attempts(session, endpoint_id)]
    assert codes == [500, 302, 204]


async def test_a_rolled_back_booking_writes_no_message_and_sold_out_is_sent_once(
    app: Any, client: GraphQLClient, session: Any, receiver: WebhookReceiver
) -> None:
    organizer = await client.register(organizer=True)
    _, secret = await add_endpoint(app, organizer, receiver.base_url + "/all")
    receiver.expect("/all", secret)
    event = await create_event(client, organizer, promoCodes=[], **SMALL)
    buyers = [await client.register() for _ in range(3)]
    assert (await reserve(client, buyers[0], event, {"GA": 1}))["errors"] == []
    assert (await reserve(client, buyers[1], event, {"GA": 1}))["errors"] == []
    refused = await reserve(client, buyers[2], event, {"GA": 1})
    assert [e["code"] for e in refused["errors"]] == ["SOLD_OUT"]

    kinds = [m.kind for m in await messages(session) if m.kind != "event.published"]
    assert sorted(kinds) == ["event.sold_out", "order.paid", "order.paid"]
    got = await receiver.arrived(4, "/all")  # published, 2 paid, sold out
    # At least once: an attempt cut off on a loaded machine is retried with the same id.
    delivered = {r.webhook_id: r.payload["type"] for r in got if r.answered == "ok"}
    assert sorted(delivered.values()) == [
        "event.published",
        "event.sold_out",
        "order.paid",
        "order.paid",
    ]


async def test_delivery_gives_up_3_days_after_the_message(
    app: Any, client: GraphQLClient, session: Any, receiver: WebhookReceiver
) -> None:
    organizer = await client.register(organizer=True)
    endpoint_id, secret = await add_endpoint(app, organizer, receiver.base_url + "/down")
    receiver.expect("/down", secret)
    receiver.plan("/down", *["500"] * 5)
    old = datetime.now(UTC) - timedelta(days=3, minutes=1)
    await session.execute(update(OutboxMessage).values(created_at=old))
    await session.commit()
    await create_event(client, organizer, promoCodes=[], **SMALL)  # event.published
    found = await delivery_when(session, endpoint_id, lambda d: bool(d) and bool(d[0].last_error))
    assert [d.status for d in found] == ["PENDING"]  # the new message is young
    await session.execute(update(OutboxMessage).values(created_at=old))
    await session.commit()
    await make_due(session)
    found = await delivery_when(
        session, endpoint_id, lambda d: bool(d) and d[0].status != "PENDING"
    )
    assert found[0].status == "FAILED"


async def test_an_endpoint_failing_for_3_days_is_disabled_and_its_organizer_told(
    app: Any, client: GraphQLClient, session: Any, receiver: WebhookReceiver
) -> None:
    organizer = await client.register(organizer=True)
    endpoint_id, secret = await add_endpoint(app, organizer, receiver.base_url + "/dead")
    receiver.expect("/dead", secret)
    receiver.plan("/dead", "500")
    since = datetime.now(UTC) - timedelta(days=3, seconds=1)
    await session.execute(update(WebhookEndpoint).values(failing_since=since))
    await session.commit()
    await create_event(client, organizer, promoCodes=[], **SMALL)
    for _ in range(100):
        if await messages(session, outbox.ENDPOINT_DISABLED):
            break
        await _pause()
    [notice] = await messages(session, outbox.ENDPOINT_DISABLED)
    assert notice.organizer_id == actor_of(organizer).user_id
    assert payload_of(notice)["data"]["endpoint"]["url"].endswith("/dead")
    endpoint = await session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
    assert endpoint is not None
    assert not endpoint.enabled
    assert endpoint.disabled_reason == "every delivery failed for 3 days"


async def test_after_a_rotation_old_and_new_secrets_both_verify(
    app: Any, client: GraphQLClient, session: Any, receiver: WebhookReceiver
) -> None:
    organizer = await client.register(organizer=True)
    endpoint_id, old = await add_endpoint(app, organizer, receiver.base_url + "/old")
    _, new = await webhooks.rotate_secret(session, endpoint_id, actor_of(organizer))
    receiver.expect("/old", old)
    await create_event(client, organizer, promoCodes=[], **SMALL)
    [got] = await receiver.arrived(1, "/old")
    assert got.verified
    assert len(got.headers["webhook-signature"].split(" ")) == 2
    receiver.secrets["/old"] = [new]
    await delivery_when(session, endpoint_id, lambda d: bool(d) and d[0].status == "DELIVERED")
    await webhook_log.redeliver(
        session, (await deliveries(session, endpoint_id))[0].id or 0, actor_of(organizer)
    )
    got2 = await receiver.arrived(2, "/old")
    assert got2[1].verified
    assert got2[1].webhook_id == got.webhook_id


async def test_a_hanging_endpoint_times_out_and_a_slow_body_still_delivers(
    app: Any, client: GraphQLClient, session: Any, receiver: WebhookReceiver
) -> None:
    receiver.hang_seconds = 3
    organizer = await client.register(organizer=True)
    endpoint_id, secret = await add_endpoint(app, organizer, receiver.base_url + "/slow")
    receiver.expect("/slow", secret)
    receiver.plan("/slow", "timeout", "slow")
    await create_event(client, organizer, promoCodes=[], **SMALL)
    [first] = await attempts_when(session, endpoint_id, 1)
    assert first.status_code is None
    assert "no answer within 1 s" in (first.error or "")
    assert 900 <= first.latency_ms < 2500
    await make_due(session)
    await delivery_when(session, endpoint_id, lambda d: bool(d) and d[0].status == "DELIVERED")
    second = (await attempts(session, endpoint_id))[1]
    assert second.status_code == 200
    assert second.latency_ms < 2500
    assert (second.response_excerpt or "").startswith(".")


async def _pause() -> None:
    import asyncio

    await asyncio.sleep(0.05)


async def test_a_stopping_worker_gives_its_claims_back(
    settings: Settings, receiver: WebhookReceiver
) -> None:
    """A deploy stops a worker mid-send: the claim is given back at once, due for any
    worker, and the attempt it never finished is not counted."""
    import asyncio

    import httpx

    from eventhub.web.app import create_app

    receiver.hang_seconds = 30
    stopping = create_app(settings.model_copy(update={"webhook_timeout": 20.0}))
    async with stopping.router.lifespan_context(stopping):
        transport = httpx.ASGITransport(app=stopping)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            client = GraphQLClient(http)
            organizer = await client.register(organizer=True)
            endpoint_id, secret = await add_endpoint(stopping, organizer, receiver.base_url + "/h")
            receiver.expect("/h", secret)
            receiver.plan("/h", "timeout")
            await create_event(client, organizer, promoCodes=[], **SMALL)
            for _ in range(200):  # until the send is under way at the receiver
                if receiver.at("/h"):
                    break
                await asyncio.sleep(0.05)
            assert receiver.at("/h"), "the webhook was never sent"
    async with stopping.state.eventhub.session_factory() as session:
        [delivery] = await deliveries(session, endpoint_id)
        assert (delivery.status, delivery.attempts) == ("PENDING", 0)
        assert delivery.next_attempt_at <= datetime.now(UTC)
        assert await attempts(session, endpoint_id) == []
