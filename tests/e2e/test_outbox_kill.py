"""SIGKILL a server while webhooks are in flight: every message still arrives, with its id.

A real `eventhub serve` (2 workers) delivers to a real local receiver that
verifies every signature with `standardwebhooks`. The receiver leaves the first
requests hanging; the server is killed while they hang. A second server on the
same database picks the dead worker's deliveries up once their lease runs out:
every committed message arrives at least once, each time with its own webhook-id.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import text

from tests.e2e.conftest import Database, ServerLauncher, graphql_client, register_customers
from tests.support.factories import create_event, reserve
from tests.support.webhook_receiver import WebhookReceiver

pytestmark = pytest.mark.e2e

ORDERS = 12
HANGING = 4
CREATE = """mutation($input: CreateWebhookEndpointInput!) {
  createWebhookEndpoint(input: $input) { secret errors { code } } }"""
PAID_MESSAGES = "SELECT uid FROM outbox_messages WHERE kind = 'order.paid'"
OUTBOX = {
    "webhooks_allow_private": 1,
    "webhook_timeout": 8,  # a lease of 21 s: the hanging sends are surely in flight
    "outbox_poll_seconds": 0.1,
}


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    server = WebhookReceiver().start()
    server.hang_seconds = 6
    yield server
    server.stop()


async def _arrived(receiver: WebhookReceiver, ids: set[str], within: float) -> set[str]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        got = {r.webhook_id for r in receiver.at("/kill") if r.verified and r.answered == "ok"}
        if ids <= got:
            return got
        await asyncio.sleep(0.1)
    return got


async def test_a_killed_worker_loses_no_webhook(
    start_server: ServerLauncher, database: Database, receiver: WebhookReceiver
) -> None:
    first = await start_server(workers=2, **OUTBOX)
    async with graphql_client(first, connections=10) as client:
        organizer = await client.register(organizer=True)
        created = (
            await client.data(
                CREATE,
                {"input": {"url": receiver.base_url + "/kill", "eventTypes": ["ORDER_PAID"]}},
                organizer.token,
            )
        )["createWebhookEndpoint"]
        receiver.expect("/kill", created["secret"])
        receiver.plan("/kill", *["timeout"] * HANGING)
        event = await create_event(
            client, organizer, promoCodes=[], capacity=ORDERS,
            ticketTypes=[{"name": "GA", "price": "1.00", "limit": ORDERS}],
        )  # fmt: skip
        buyers = await register_customers(client, ORDERS, concurrency=4)
        for buyer in buyers:
            assert (await reserve(client, buyer, event, {"GA": 1}))["errors"] == []
    for _ in range(100):  # the hanging requests reached the receiver: they are in flight
        if len([r for r in receiver.at("/kill") if r.answered == "timeout"]) >= HANGING:
            break
        await asyncio.sleep(0.1)
    first.kill()
    hung = {r.webhook_id for r in receiver.at("/kill") if r.answered == "timeout"}
    assert len(hung) == HANGING

    async with database.session() as session:
        rows = await session.execute(
            text("SELECT uid FROM outbox_messages WHERE kind = 'order.paid'")
        )
        ids = {row[0] for row in rows.all()}
        await session.rollback()
    assert len(ids) == ORDERS
    assert hung <= ids
    await start_server(workers=1, **OUTBOX)
    got = await _arrived(receiver, ids, within=60)
    assert ids <= got, f"never delivered: {ids - got}"
    assert got <= ids  # nothing but the committed messages, each under its own id
    assert all(r.verified for r in receiver.at("/kill"))
    statuses: set[str] = set()
    for _ in range(100):  # the last answers arrived; their outcomes are being recorded
        async with database.session() as session:
            rows = await session.execute(text("SELECT status FROM outbox_deliveries"))
            statuses = {row[0] for row in rows.all()}
            await session.rollback()
        if statuses == {"DELIVERED"}:
            break
        await asyncio.sleep(0.1)
    assert statuses == {"DELIVERED"}
