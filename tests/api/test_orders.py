"""After the booking: holds expire, buyers cancel, organizers refund, admins look."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.global_ids import decode_id, encode_id
from eventhub.models import Order
from eventhub.services import audit, booking, orders, refunds
from eventhub.services.hold_sweeper import sweep_once
from eventhub.services.payments import OfflineProvider
from eventhub.web.app import create_app
from tests.conftest import make_settings
from tests.support.clock import ManualClock, SteppedClock
from tests.support.factories import create_event, reserve, tier_id
from tests.support.graphql import Account, GraphQLClient, make_admin
from tests.support.invariant import HoldingProvider, check_invariant

ORDER = """query($id: ID!) { order(id: $id) {
  status expiresAt payment { provider status clientSecret } tickets { status } } }"""
CANCEL = """mutation($id: ID!) { cancelOrder(id: $id) {
  order { status tickets { status } } errors { code } } }"""
REFUND = """mutation($id: ID!) { refundOrder(id: $id, reason: "ill") {
  order { status tickets { status } } errors { code } } }"""
CANCEL_EVENT = """mutation($id: ID!) { cancelEvent(id: $id) {
  event { status sold } errors { code } } }"""
AUDIT = """query($action: String) { auditLog(action: $action) {
  edges { node { targetId actor { id } } } } }"""


def pk(global_id: str, kind: str) -> int:
    value = decode_id(global_id, kind)
    assert value is not None, global_id
    return value


async def hold_seats(
    app: Any, buyer: Account, event: dict[str, Any], items: dict[str, int], promo: str | None = None
) -> str:
    """The id of a PENDING order, made by the booking service with a provider that waits."""
    state = app.state.eventhub
    lines = [booking.LineRequest(pk(tier_id(event, n), "TicketType"), q) for n, q in items.items()]
    request = booking.ReservationRequest(pk(event["id"], "Event"), lines, promo)
    actor = audit.Actor(pk(buyer.id, "User"), None, frozenset({"CUSTOMER"}))
    policy = booking.BookingPolicy(state.settings.hold_seconds, 10)
    async with state.session_factory() as session:
        order = await booking.reserve(
            session, request, actor, policy, HoldingProvider(), now=state.clock.now()
        )
    assert order.status == "PENDING"
    return encode_id("Order", order.id)


async def promo_uses(session: AsyncSession, code: str) -> int:
    uses = await session.scalar(text("SELECT uses FROM promo_codes WHERE code = :c"), {"c": code})
    await session.rollback()  # end the read: SQLite's BEGIN IMMEDIATE holds the write lock
    return int(uses)


async def sold(client: GraphQLClient, event: dict[str, Any]) -> int:
    query = "query($id: ID!) { event(id: $id) { sold } }"
    return int((await client.data(query, {"id": event["id"]}))["event"]["sold"])


async def mutate(client: GraphQLClient, query: str, target_id: str, who: Account) -> Any:
    """The payload of a mutation on one order (or event), as `who`."""
    body = await client.data(query, {"id": target_id}, who.token)
    return next(iter(body.values()))


def codes(payload: dict[str, Any]) -> list[str]:
    return [error["code"] for error in payload["errors"]]


@pytest.fixture
async def short_holds(
    database_url: str, tmp_path: Path
) -> AsyncIterator[tuple[Any, GraphQLClient]]:
    """An app whose holds last one second, whose clock stands still until a test advances
    it, and whose own sweeper stays out of the way."""
    settings = make_settings(database_url, tmp_path, hold_seconds=1, sweep_interval_seconds=3600)
    app = create_app(settings, ManualClock())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, GraphQLClient(http)


async def test_an_expired_hold_is_released_exactly_once_by_racing_sweepers(
    short_holds: tuple[Any, GraphQLClient],
) -> None:
    app, client = short_holds
    factory, clock = app.state.eventhub.session_factory, app.state.eventhub.clock
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    order_id = await hold_seats(app, buyer, event, {"Early Bird": 2}, promo="early25")

    seen = (await client.data(ORDER, {"id": order_id}, buyer.token))["order"]
    assert (seen["status"], seen["tickets"]) == ("PENDING", [])
    assert seen["expiresAt"] is not None
    assert seen["payment"] == {
        "provider": "test",
        "status": "requires_payment_method",
        "clientSecret": "secret",
    }
    clock.advance(0.999)
    assert await sweep_once(factory, clock) == 0  # not due yet
    async with factory() as session:
        assert (await sold(client, event), await promo_uses(session, "EARLY25")) == (2, 1)
        clock.advance(0.001)  # due the very instant it expires
        released = await asyncio.gather(*(sweep_once(factory, clock) for _ in range(5)))
        assert sum(released) == 1
        assert await sweep_once(factory, clock) == 0
        seen = (await client.data(ORDER, {"id": order_id}, buyer.token))["order"]
        assert (seen["status"], seen["expiresAt"]) == ("EXPIRED", None)
        assert (await sold(client, event), await promo_uses(session, "EARLY25")) == (0, 0)
        audited = text("SELECT actor_id FROM audit_entries WHERE action = 'order.expire'")
        assert list((await session.execute(audited)).scalars()) == [None]  # by the system
        await check_invariant(session)
    assert codes(await mutate(client, CANCEL, order_id, buyer)) == ["NOT_REFUNDABLE"]


async def test_cancelling_a_hold_releases_it_without_a_refund(
    short_holds: tuple[Any, GraphQLClient],
) -> None:
    app, client = short_holds
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    order_id = await hold_seats(app, buyer, event, {"VIP": 3})
    cancelled = await mutate(client, CANCEL, order_id, buyer)
    assert (cancelled["order"]["status"], cancelled["errors"]) == ("CANCELLED", [])
    assert await sold(client, event) == 0
    app.state.eventhub.clock.advance(60)
    state = app.state.eventhub
    assert await sweep_once(state.session_factory, state.clock) == 0  # nothing left to expire
    assert await sold(client, event) == 0


async def test_a_buyer_cancels_a_paid_order_once_and_gets_seats_and_promo_back(
    app: Any, client: GraphQLClient, session: AsyncSession
) -> None:
    organizer = await client.register(organizer=True)
    buyer, neighbour = await client.register(), await client.register()
    once = {"code": "ONCE", "kind": "PERCENT", "value": "10", "maxUses": 1}
    event = await create_event(client, organizer, promoCodes=[once])
    await reserve(client, neighbour, event, {"VIP": 1})
    order = (await reserve(client, buyer, event, {"VIP": 2}, promoCode="once"))["order"]

    cancelled = await mutate(client, CANCEL, order["id"], buyer)
    assert cancelled["order"]["status"] == "REFUNDED"
    assert [t["status"] for t in cancelled["order"]["tickets"]] == ["VOID", "VOID"]
    assert await sold(client, event) == 1
    twice = await mutate(client, CANCEL, order["id"], buyer)
    assert (codes(twice), await sold(client, event)) == (["NOT_REFUNDABLE"], 1)

    again = await reserve(client, neighbour, event, {"Regular": 1}, promoCode="ONCE")
    assert again["errors"] == []  # the promo use came back with the refund
    admin = await make_admin(app, client)
    log = (await client.data(AUDIT, {"action": "order.cancel_refund"}, admin.token))["auditLog"]
    assert [(e["node"]["targetId"], e["node"]["actor"]["id"]) for e in log["edges"]] == [
        (str(pk(order["id"], "Order")), buyer.id)
    ]
    await check_invariant(session)


async def test_after_the_start_only_the_organizer_can_refund(client: GraphQLClient) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    now = datetime.now(UTC)
    starts, ends = now - timedelta(hours=1), now + timedelta(hours=5)
    event = await create_event(
        client, organizer, startsAt=starts.isoformat(), endsAt=ends.isoformat()
    )
    order = (await reserve(client, buyer, event, {"Regular": 1}))["order"]
    assert codes(await mutate(client, CANCEL, order["id"], buyer)) == ["NOT_REFUNDABLE"]
    refunded = await mutate(client, REFUND, order["id"], organizer)
    assert (refunded["order"]["status"], await sold(client, event)) == ("REFUNDED", 0)


async def test_a_buyer_may_cancel_a_paid_order_until_the_event_starts(
    client: GraphQLClient, clock: SteppedClock
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    starts = clock.now() + timedelta(hours=1)
    event = await create_event(
        client,
        organizer,
        startsAt=starts.isoformat(),
        endsAt=(starts + timedelta(hours=5)).isoformat(),
    )
    early, late = [(await reserve(client, buyer, event, {"Regular": 1}))["order"] for _ in "ab"]
    assert (await mutate(client, CANCEL, early["id"], buyer))["order"]["status"] == "REFUNDED"
    clock.advance(3600)  # the event has started
    assert codes(await mutate(client, CANCEL, late["id"], buyer)) == ["NOT_REFUNDABLE"]
    assert await sold(client, event) == 1


async def test_refunds_are_for_the_organizer_and_admins_only(
    app: Any, client: GraphQLClient
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    other, admin = await client.register(organizer=True), await make_admin(app, client)
    event = await create_event(client, organizer)
    first = (await reserve(client, buyer, event, {"VIP": 1}))["order"]["id"]
    second = (await reserve(client, buyer, event, {"VIP": 1}))["order"]["id"]

    as_buyer = await client.execute(REFUND, {"id": first}, buyer.token)
    assert as_buyer["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    assert codes(await mutate(client, REFUND, first, other)) == ["NOT_FOUND"]
    assert codes(await mutate(client, CANCEL, first, other)) == ["NOT_FOUND"]
    assert await sold(client, event) == 2

    assert (await mutate(client, REFUND, first, organizer))["order"]["status"] == "REFUNDED"
    assert (await mutate(client, REFUND, second, admin))["order"]["status"] == "REFUNDED"
    assert codes(await mutate(client, REFUND, second, admin)) == ["NOT_REFUNDABLE"]
    assert await sold(client, event) == 0


async def test_cancelling_an_event_refunds_paid_orders_and_releases_holds(
    app: Any, client: GraphQLClient, session: AsyncSession
) -> None:
    organizer = await client.register(organizer=True)
    ann, bob = await client.register(), await client.register()
    event = await create_event(client, organizer)
    paid = [
        (await reserve(client, who, event, {"Regular": 2}))["order"]["id"] for who in (ann, bob)
    ]
    held = await hold_seats(app, bob, event, {"VIP": 1})

    result = await mutate(client, CANCEL_EVENT, event["id"], organizer)
    assert result == {"event": {"status": "CANCELLED", "sold": 0}, "errors": []}
    for order_id, who in [(paid[0], ann), (paid[1], bob)]:
        order = (await client.data(ORDER, {"id": order_id}, who.token))["order"]
        assert (order["status"], order["tickets"]) == ("REFUNDED", [{"status": "VOID"}] * 2)
    hold = (await client.data(ORDER, {"id": held}, bob.token))["order"]
    assert hold["status"] == "CANCELLED"
    await check_invariant(session)


async def test_cancelling_an_event_survives_losing_a_hold_to_the_sweeper(
    app: Any, client: GraphQLClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    paid = (await reserve(client, buyer, event, {"Regular": 2}))["order"]["id"]
    held = await hold_seats(app, buyer, event, {"VIP": 1})
    factory, real_cancel_hold = app.state.eventhub.session_factory, orders.cancel_hold

    async def sweeper_gets_there_first(session: AsyncSession, order: Any, actor: Any) -> bool:
        await session.commit()  # between two of cancelEvent's transactions
        async with factory() as sweeper:
            past = datetime.now(UTC) - timedelta(seconds=1)
            hold = text("UPDATE orders SET expires_at = :t WHERE status = 'PENDING'")
            await sweeper.execute(hold, {"t": past})
            await sweeper.commit()
        await sweep_once(factory, app.state.eventhub.clock)
        return await real_cancel_hold(session, order, actor)

    monkeypatch.setattr(orders, "cancel_hold", sweeper_gets_there_first)
    body = await client.execute(CANCEL_EVENT, {"id": event["id"]}, organizer.token)
    assert not body.get("errors"), body["errors"]
    assert body["data"]["cancelEvent"]["event"] == {"status": "CANCELLED", "sold": 0}
    statuses = [
        (await client.data(ORDER, {"id": order_id}, buyer.token))["order"]["status"]
        for order_id in (paid, held)
    ]
    assert statuses == ["REFUNDED", "EXPIRED"]


async def test_admins_filter_all_orders_by_event_and_status(
    app: Any, client: GraphQLClient
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    admin = await make_admin(app, client)
    first, second = await create_event(client, organizer), await create_event(client, organizer)
    refunded = (await reserve(client, buyer, first, {"VIP": 1}))["order"]["id"]
    await mutate(client, CANCEL, refunded, buyer)
    paid = (await reserve(client, buyer, first, {"VIP": 1}))["order"]["id"]
    elsewhere = (await reserve(client, buyer, second, {"VIP": 1}))["order"]["id"]
    query = """query($eventId: ID, $status: OrderStatus) {
      orders(eventId: $eventId, status: $status) { totalCount edges { node { id } } } }"""

    async def ids(**filters: Any) -> list[str]:
        found = (await client.data(query, filters, admin.token))["orders"]
        assert found["totalCount"] == len(found["edges"])
        return [edge["node"]["id"] for edge in found["edges"]]

    assert await ids() == [elsewhere, paid, refunded]  # newest first
    assert await ids(eventId=first["id"]) == [paid, refunded]
    assert await ids(status="PAID") == [elsewhere, paid]
    assert await ids(eventId=first["id"], status="REFUNDED") == [refunded]
    as_buyer = await client.execute(query, {}, buyer.token)
    assert as_buyer["errors"][0]["extensions"]["code"] == "FORBIDDEN"


async def test_orders_and_users_are_seen_only_by_those_allowed(
    app: Any, client: GraphQLClient
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    stranger, other = await client.register(), await client.register(organizer=True)
    admin = await make_admin(app, client)
    event = await create_event(client, organizer)
    order_id = (await reserve(client, buyer, event, {"Early Bird": 1}))["order"]["id"]
    query = """query($id: ID!) { order(id: $id) { buyer { id } event { id } }
      node(id: $id) { __typename id } }"""
    for allowed in (buyer, organizer, admin):
        seen = await client.data(query, {"id": order_id}, allowed.token)
        assert seen["order"] == {"buyer": {"id": buyer.id}, "event": {"id": event["id"]}}
        assert seen["node"] == {"__typename": "Order", "id": order_id}
    for denied in (stranger.token, other.token, None):
        assert await client.data(query, {"id": order_id}, denied) == {"order": None, "node": None}

    user = "query($id: ID!) { node(id: $id) { ... on User { email } } }"
    for allowed in (buyer, admin):
        seen = await client.data(user, {"id": buyer.id}, allowed.token)
        assert seen["node"] == {"email": buyer.email}
    assert (await client.data(user, {"id": buyer.id}, stranger.token))["node"] is None


async def test_a_cancel_racing_a_refund_returns_the_seats_once(
    client: GraphQLClient, session: AsyncSession
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    await reserve(client, organizer, event, {"VIP": 1})
    order_id = (await reserve(client, buyer, event, {"VIP": 2}))["order"]["id"]
    await asyncio.gather(
        client.execute(CANCEL, {"id": order_id}, buyer.token),
        client.execute(REFUND, {"id": order_id}, organizer.token),
        client.execute(CANCEL, {"id": order_id}, buyer.token),
    )  # what the losers are told: see the test below
    order = (await client.data(ORDER, {"id": order_id}, buyer.token))["order"]
    assert (order["status"], order["tickets"]) == ("REFUNDED", [{"status": "VOID"}] * 2)
    assert await sold(client, event) == 1
    await check_invariant(session)


async def test_the_loser_of_a_refund_race_sees_the_refunded_order(
    app: Any, client: GraphQLClient
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    order_id = (await reserve(client, buyer, event, {"VIP": 2}))["order"]["id"]
    actor = audit.Actor(pk(organizer.id, "User"), None, frozenset({"ORGANIZER"}))
    async with app.state.eventhub.session_factory() as late:
        stale = await late.get(Order, pk(order_id, "Order"))  # read just before the buyer wins
        await late.commit()
        assert (await mutate(client, CANCEL, order_id, buyer))["order"]["status"] == "REFUNDED"
        loser = await refunds.refund_paid(
            late, stale, actor, OfflineProvider(), "order.refund", None
        )
    assert loser.status == "REFUNDED"
    assert await sold(client, event) == 0
