"""Ticket e-mail through the outbox: a real local SMTP server (aiosmtpd) receives it.

What arrives is parsed as a mail client would: the MIME tree, each inline QR
PNG decoded back to its token (zxing-cpp), the .ics read with `icalendar`.
A server answering 451 is retried with the same Message-ID and never slows the
booking; a delivery the server accepted is not sent again. Both databases.
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import io
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import httpx
import icalendar
import pytest
import zxingcpp
from PIL import Image
from sqlalchemy import select

from eventhub.global_ids import decode_id
from eventhub.models import Event, OutboxDelivery
from eventhub.services import outbox_delivery
from eventhub.settings import Settings
from eventhub.web.app import create_app
from tests.support.factories import create_event, reserve
from tests.support.graphql import Account, GraphQLClient
from tests.support.smtp_server import SmtpServer
from tests.support.tls_cert import localhost_certificate
from tests.support.webhooks import make_due, messages, outbox_settings

TWO = {"capacity": 5, "ticketTypes": [{"name": "GA", "price": "10.00", "limit": 5}]}


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, smtp: SmtpServer, request: pytest.FixtureRequest
) -> Settings:
    """`poll` (indirect): how often the app's own deliverer looks; 60 s keeps it out of the way."""
    poll = getattr(request, "param", 0.05)
    return outbox_settings(
        database_url, tmp_path, smtp_url=smtp.url, smtp_timeout=2.0, outbox_poll_seconds=poll
    )


async def email_deliveries(session: Any) -> list[OutboxDelivery]:
    rows = await session.scalars(
        select(OutboxDelivery)
        .where(OutboxDelivery.channel == "email")  # type: ignore[arg-type]
        .order_by(OutboxDelivery.id)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    found = list(rows.all())
    for row in found:  # readable after the read transaction ends
        session.expunge(row)
    await session.rollback()
    return found


def decode_qr(png: bytes) -> str:
    [code] = zxingcpp.read_barcodes(Image.open(io.BytesIO(png)))
    assert code.format == zxingcpp.BarcodeFormat.QRCode
    return str(code.text)


def check_ticket_mail(mail: EmailMessage, event: Event, tokens: list[str]) -> None:
    """multipart/mixed: [alternative: [text, related: [html, PNG per ticket]], text/calendar]."""
    assert mail.get_content_type() == "multipart/mixed"
    alternative, ics = mail.iter_parts()
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = alternative.iter_parts()
    assert related.get_content_type() == "multipart/related"
    html, *images = related.iter_parts()
    assert (text.get_content_type(), html.get_content_type()) == ("text/plain", "text/html")
    assert [image.get_content_type() for image in images] == ["image/png"] * len(tokens)
    assert sorted(decode_qr(image.get_content()) for image in images) == sorted(tokens)
    for image in images:  # each image is the one the HTML shows
        assert f"cid:{image['Content-ID'].strip('<>')}" in html.get_content()
    body = text.get_content()
    assert all(token in body for token in tokens)
    assert event.name in body
    assert ics.get_content_type() == "text/calendar"
    assert ics.get_param("method") == "PUBLISH"
    raw = ics.get_payload(decode=True)
    assert raw.endswith(b"END:VCALENDAR\r\n")
    assert b"\n" not in raw.replace(b"\r\n", b"")  # CRLF line ends only
    cal = icalendar.Calendar.from_ical(raw)
    assert str(cal["METHOD"]) == "PUBLISH"
    [vevent] = cal.walk("VEVENT")
    assert vevent.decoded("DTSTART") == event.starts_at.replace(microsecond=0)
    assert vevent.decoded("DTSTART").tzinfo is not None  # UTC ("Z"), not floating
    assert str(vevent["SUMMARY"]) == event.name
    assert str(vevent["UID"]) == f"event-{event.id}@localhost"


async def test_a_paid_order_mails_its_tickets_with_qr_codes_and_the_event(
    client: GraphQLClient, session: Any, smtp: SmtpServer
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, promoCodes=[], **TWO)
    buyer = await client.register()
    order = (await reserve(client, buyer, event, {"GA": 2}))["order"]
    assert order["status"] == "PAID"

    [(recipients, mail)] = await smtp.arrived(1)
    assert recipients == [buyer.email]
    assert mail["To"] == buyer.email
    row = await session.get(Event, decode_id(event["id"], "Event"))
    check_ticket_mail(mail, row, [t["qrToken"] for t in order["tickets"]])
    [paid] = await messages(session, "order.paid")
    [delivery] = await email_deliveries(session)
    assert mail["Message-ID"] == f"<{paid.uid}.{delivery.id}@localhost>"


async def test_a_451_server_is_retried_with_the_same_id_and_never_slows_a_booking(
    client: GraphQLClient, session: Any, smtp: SmtpServer
) -> None:
    smtp.refuse(2)
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, promoCodes=[], **TWO)
    buyer = await client.register()
    started = time.monotonic()
    order = (await reserve(client, buyer, event, {"GA": 1}))["order"]
    assert time.monotonic() - started < 1.0
    assert order["status"] == "PAID"

    for refusal in (1, 2):
        for _ in range(200):
            [delivery] = await email_deliveries(session) or [None]
            if delivery is not None and f"(refusal {refusal})" in (delivery.last_error or ""):
                break
            await _pause()
        assert delivery is not None
        assert delivery.status == "PENDING"
        assert (delivery.last_error or "").startswith("451")
        if refusal == 1:  # the first retry is due within 30 s
            wait = delivery.next_attempt_at - datetime.now(UTC)
            assert timedelta(seconds=3) < wait <= timedelta(seconds=16)
        await make_due(session)
    [(_, mail)] = await smtp.arrived(1)
    assert smtp.refused == 2
    [paid] = await messages(session, "order.paid")
    assert mail["Message-ID"].startswith(f"<{paid.uid}.")
    for _ in range(100):
        [delivery] = await email_deliveries(session)
        if delivery.status == "DELIVERED":
            break
        await _pause()
    assert (delivery.status, delivery.attempts) == ("DELIVERED", 3)
    await _pause(0.5)
    assert len(smtp.received) == 1


async def _pause(seconds: float = 0.05) -> None:
    await asyncio.sleep(seconds)


@pytest.mark.parametrize("settings", [60.0], indirect=True)
async def test_an_accepted_mail_is_not_sent_again_when_its_worker_dies_before_recording(
    app: Any, client: GraphQLClient, session: Any, smtp: SmtpServer
) -> None:
    """The worker is driven by hand: it sends, then 'dies' before record_outcome."""
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, promoCodes=[], **TWO)
    buyer = await client.register()
    await reserve(client, buyer, event, {"GA": 1})
    deliverer = app.state.outbox
    channel = deliverer.channels["email"]
    await outbox_delivery.route_messages(session, [channel])
    [claimed] = [
        c
        for c in await outbox_delivery.claim_due(session, 10, deliverer.policy.lease)
        if c.delivery.channel == "email"
    ]
    outcome = await channel.deliver(app.state.eventhub.session_factory, *_args(claimed))
    assert outcome.delivered
    # The lease runs out (the worker died): nothing is due again, nothing resent.
    later = datetime(2999, 1, 1, tzinfo=UTC)
    again = await outbox_delivery.claim_due(session, 10, deliverer.policy.lease, now=later)
    assert [c for c in again if c.delivery.channel == "email"] == []
    [delivery] = await email_deliveries(session)
    assert delivery.status == "DELIVERED"
    assert len(await smtp.arrived(1)) == 1


def _args(claimed: Any) -> tuple[Any, Any]:
    return claimed.message, claimed.delivery


@asynccontextmanager
async def booked_on_own_app(settings: Settings) -> AsyncIterator[tuple[Account, dict[str, Any]]]:
    """An app of these settings, running, with one order of one ticket paid: (buyer, order)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            local = GraphQLClient(http)
            organizer = await local.register(organizer=True)
            event = await create_event(local, organizer, promoCodes=[], **TWO)
            buyer = await local.register()
            yield buyer, (await reserve(local, buyer, event, {"GA": 1}))["order"]


async def test_without_an_smtp_url_mail_is_written_as_eml_files(settings: Settings) -> None:
    """The default for `tasks.py run`: a new user sees the mail with no server."""
    folder_settings = settings.model_copy(update={"smtp_url": ""})
    async with booked_on_own_app(folder_settings) as (buyer, order):
        files: list[Path] = []
        for _ in range(200):
            files = sorted(folder_settings.mail_dir.glob("*.eml"))
            if files:
                break
            await _pause()
    [file] = files
    mail = email.message_from_bytes(file.read_bytes(), policy=email.policy.default)
    assert isinstance(mail, EmailMessage)
    assert mail["To"] == buyer.email
    assert file.name == mail["Message-ID"].strip("<>") + ".eml"
    alternative, ics = mail.iter_parts()
    text, related = alternative.iter_parts()
    [token] = [t["qrToken"] for t in order["tickets"]]
    [_, image] = related.iter_parts()
    assert decode_qr(image.get_content()) == token
    assert token in text.get_content()
    assert ics.get_content_type() == "text/calendar"
    assert not list(folder_settings.mail_dir.glob("*.part"))


async def test_a_permanent_refusal_is_not_retried(
    client: GraphQLClient, session: Any, smtp: SmtpServer
) -> None:
    """5xx means retrying cannot help: the delivery is FAILED after one attempt."""
    smtp.refuse(1, code=550)
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, promoCodes=[], **TWO)
    buyer = await client.register()
    await reserve(client, buyer, event, {"GA": 1})
    for _ in range(200):
        found = await email_deliveries(session)
        if found and found[0].status != "PENDING":
            break
        await _pause()
    [delivery] = found
    assert (delivery.status, delivery.attempts) == ("FAILED", 1)
    assert (delivery.last_error or "").startswith("550")
    assert smtp.refused == 1
    assert smtp.received == []


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")  # plain, smtps
@pytest.mark.parametrize("tls", ["none", "starttls", "implicit"])
async def test_login_and_tls_as_the_url_says(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, tls: str
) -> None:
    """smtp://user:pass@host:port logs in with them (percent-decoded); smtp:// upgrades
    with STARTTLS when offered (this server requires it, and AUTH only after it); smtps://
    speaks TLS from the first byte. The certificate is verified (trusted here)."""
    cert_file, context = localhost_certificate(tmp_path)
    monkeypatch.setenv("SSL_CERT_FILE", str(cert_file))  # OpenSSL's trust store for this test
    options = {"none": {}, "starttls": {"starttls": context}, "implicit": {"implicit_tls": context}}
    server = SmtpServer(credentials=("mailer", "p@ss:word"), **options[tls]).start()
    try:
        scheme = "smtps" if tls == "implicit" else "smtp"
        url = f"{scheme}://mailer:p%40ss%3Aword@127.0.0.1:{server.port}"
        settings = outbox_settings(database_url, tmp_path, smtp_url=url, smtp_timeout=2.0)
        async with booked_on_own_app(settings) as (buyer, _):
            [(recipients, _)] = await server.arrived(1)
    finally:
        server.stop()
    assert recipients == [buyer.email]
    assert server.logins == ["mailer"]
    assert server.secure == [tls != "none"]
