"""Notices by e-mail: a refund tells its buyer, a cancelled event tells each of its
buyers once (not once more per refund), a disabled webhook endpoint tells its organizer.

A real local SMTP server (aiosmtpd) receives them; both databases.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from eventhub.models import WebhookEndpoint
from eventhub.services import outbox
from eventhub.settings import Settings
from tests.support.factories import create_event, reserve
from tests.support.graphql import Account, GraphQLClient
from tests.support.smtp_server import SmtpServer
from tests.support.webhook_receiver import WebhookReceiver
from tests.support.webhooks import add_endpoint, messages, outbox_settings

EVENT = {"capacity": 10, "ticketTypes": [{"name": "GA", "price": "10.00", "limit": 10}]}
REFUND = """mutation($id: ID!) { refundOrder(id: $id, reason: "ill") {
  order { status } errors { code } } }"""
CANCEL_EVENT = (
    """mutation($id: ID!) { cancelEvent(id: $id) { event { status } errors { code } } }"""
)


@pytest.fixture
def settings(database_url: str, tmp_path: Path, smtp: SmtpServer) -> Settings:
    return outbox_settings(database_url, tmp_path, smtp_url=smtp.url, smtp_timeout=2.0)


def mails_to(smtp: SmtpServer, account: Account) -> list[EmailMessage]:
    return [mail for rcpt, mail in smtp.received if rcpt == [account.email]]


async def settled(smtp: SmtpServer, count: int) -> list[EmailMessage]:
    """`count` mails, and no more after a further second of delivering."""
    await smtp.arrived(count)
    await asyncio.sleep(1.0)
    assert len(smtp.received) == count, [m["Subject"] for _, m in smtp.received]
    return [mail for _, mail in smtp.received]


async def test_a_refund_sends_its_buyer_one_notice(
    client: GraphQLClient, session: Any, smtp: SmtpServer
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, promoCodes=[], **EVENT)
    buyer = await client.register()
    order = (await reserve(client, buyer, event, {"GA": 1}))["order"]
    await smtp.arrived(1)  # the tickets
    refunded = await client.data(REFUND, {"id": order["id"]}, organizer.token)
    assert refunded["refundOrder"]["errors"] == []

    await settled(smtp, 2)
    tickets, notice = mails_to(smtp, buyer)
    assert tickets["Subject"].startswith("Your tickets")
    assert notice["Subject"] == "Refund for PyCon Test"
    assert notice.get_content_type() == "text/plain"
    assert "10.00 USD" in notice.get_content()
    [message] = await messages(session, "order.refunded")
    assert notice["Message-ID"].startswith(f"<{message.uid}.")


async def test_a_cancelled_event_tells_each_buyer_once(
    client: GraphQLClient, smtp: SmtpServer
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, promoCodes=[], **EVENT)
    first, second, earlier = [await client.register() for _ in range(3)]
    for buyer, quantity in ((first, 1), (first, 2), (second, 1)):
        await reserve(client, buyer, event, {"GA": quantity})
    order = (await reserve(client, earlier, event, {"GA": 1}))["order"]
    await smtp.arrived(4)  # the tickets
    await client.data(REFUND, {"id": order["id"]}, organizer.token)
    await smtp.arrived(5)  # and a refund notice, before the event is cancelled
    cancelled = await client.data(CANCEL_EVENT, {"id": event["id"]}, organizer.token)
    assert cancelled["cancelEvent"]["errors"] == []

    await settled(smtp, 7)
    subjects = {
        account.email: [m["Subject"] for m in mails_to(smtp, account)]
        for account in (first, second, earlier)
    }
    cancelled_subject = "Cancelled: PyCon Test"
    assert subjects[first.email] == ["Your tickets for PyCon Test"] * 2 + [cancelled_subject]
    assert subjects[second.email] == ["Your tickets for PyCon Test", cancelled_subject]
    assert subjects[earlier.email] == ["Your tickets for PyCon Test", "Refund for PyCon Test"]


async def test_a_disabled_endpoint_tells_its_organizer_by_mail(
    app: Any, client: GraphQLClient, session: Any, smtp: SmtpServer
) -> None:
    """The endpoint has failed for 3 days; its next failure disables it and mails the organizer."""
    receiver = WebhookReceiver().start()
    try:
        organizer = await client.register(organizer=True)
        endpoint_id, secret = await add_endpoint(app, organizer, receiver.base_url + "/dead")
        receiver.expect("/dead", secret)
        receiver.plan("/dead", "500")
        since = datetime.now(UTC) - timedelta(days=3, seconds=1)
        await session.execute(update(WebhookEndpoint).values(failing_since=since))
        await session.commit()
        await create_event(client, organizer, promoCodes=[], **EVENT)  # event.published

        [(recipients, mail)] = await smtp.arrived(1)
    finally:
        receiver.stop()
    assert recipients == [organizer.email]
    assert mail["Subject"] == "A webhook endpoint of yours was disabled"
    assert receiver.base_url + "/dead" in mail.get_content()
    [notice] = await messages(session, outbox.ENDPOINT_DISABLED)
    assert mail["Message-ID"].startswith(f"<{notice.uid}.")
    endpoint = await session.get(WebhookEndpoint, endpoint_id, populate_existing=True)
    assert endpoint is not None
    assert not endpoint.enabled
