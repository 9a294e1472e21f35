"""The e-mails EventHub sends, built with the stdlib `email` package.

A paid order is one message: text and HTML alternatives, each ticket's QR code
inline as a PNG (multipart/related, referenced by Content-ID) with its token
as text beside it, and the event as an .ics part. Notices (refund, event
cancelled, webhook endpoint disabled) are plain text. Nothing here touches the
database or the network, so every message can be built and checked in isolation.
"""

from __future__ import annotations

import html
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime

import segno


@dataclass(frozen=True)
class EventInfo:
    id: int
    name: str
    starts_at: datetime
    ends_at: datetime | None
    venue: str | None


@dataclass(frozen=True)
class TicketInfo:
    id: int
    token: str
    tier: str


@dataclass(frozen=True)
class Envelope:
    """Who, from whom, and the Message-ID every attempt of this delivery carries."""

    sender: str
    to: str
    message_id: str
    date: datetime


def _utc(moment: datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%SZ")


def _ics_text(value: str) -> str:
    """RFC 5545 TEXT escaping."""
    value = value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    return value.replace("\r\n", "\\n").replace("\n", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next with one leading space."""
    data = line.encode()
    parts: list[str] = []
    while len(data) > 75:
        cut = 75 if not parts else 74
        while cut and (data[cut] & 0xC0) == 0x80:  # never split a UTF-8 character
            cut -= 1
        parts.append(data[:cut].decode())
        data = data[cut:]
    parts.append(data.decode())
    return "\r\n ".join(parts)


def calendar(event: EventInfo, stamp: datetime, domain: str) -> str:
    """A VCALENDAR with one VEVENT; the UID is stable per event, so an update replaces it."""
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//EventHub//Tickets//EN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:event-{event.id}@{domain}",
        f"DTSTAMP:{_utc(stamp)}",
        f"DTSTART:{_utc(event.starts_at)}",
    ]
    if event.ends_at is not None:
        lines.append(f"DTEND:{_utc(event.ends_at)}")
    lines += [
        f"SUMMARY:{_ics_text(event.name)}",
        *([f"LOCATION:{_ics_text(event.venue)}"] if event.venue else []),
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "".join(_fold(line) + "\r\n" for line in lines)


def qr_png(token: str) -> bytes:
    """The same code the QR route serves (error level M), large enough for a phone's camera."""
    out = io.BytesIO()
    segno.make(token, error="m", micro=False).save(out, kind="png", scale=6, border=4)
    return out.getvalue()


def _when(event: EventInfo) -> str:
    start = event.starts_at.strftime("%A %d %B %Y, %H:%M UTC")
    if event.ends_at is None:
        return start
    return f"{start} - {event.ends_at.strftime('%d %B %Y, %H:%M UTC')}"


def _headers(message: EmailMessage, envelope: Envelope, subject: str) -> None:
    message["From"] = envelope.sender
    message["To"] = envelope.to
    message["Subject"] = subject
    message["Date"] = format_datetime(envelope.date)
    message["Message-ID"] = envelope.message_id


def ticket_message(
    envelope: Envelope, event: EventInfo, tickets: Sequence[TicketInfo], domain: str
) -> EmailMessage:
    """multipart/mixed: [alternative: [text, related: [html, PNG per ticket]], text/calendar].

    Text-only readers get every token; HTML readers see each QR code by its Content-ID.
    """
    message = EmailMessage()
    _headers(message, envelope, f"Your tickets for {event.name}")
    text = [event.name, _when(event), event.venue or "", ""]
    for number, ticket in enumerate(tickets, 1):
        text += [f"Ticket {number} ({ticket.tier}): {ticket.token}"]
    text += ["", "Show the QR code (or the code above) at the door. The event is attached (.ics)."]
    message.set_content("\n".join(text))
    items = "".join(
        f"<li><p>Ticket {n} ({html.escape(t.tier)})</p>"
        f'<img src="cid:ticket-{t.id}@{domain}" alt="QR code of ticket {n}">'
        f"<p><code>{html.escape(t.token)}</code></p></li>"
        for n, t in enumerate(tickets, 1)
    )
    message.add_alternative(
        f"<html><body><h1>{html.escape(event.name)}</h1>"
        f"<p>{html.escape(_when(event))}<br>{html.escape(event.venue or '')}</p>"
        f"<ol>{items}</ol></body></html>",
        subtype="html",
    )
    html_part = message.get_payload()[1]  # type: ignore[index]
    assert isinstance(html_part, EmailMessage)
    for ticket in tickets:
        html_part.add_related(
            qr_png(ticket.token),
            "image",
            "png",
            cid=f"<ticket-{ticket.id}@{domain}>",
            filename=f"ticket-{ticket.id}.png",
            disposition="inline",
        )
    message.add_attachment(
        calendar(event, envelope.date, domain),
        subtype="calendar",
        filename="event.ics",
        params={"method": "PUBLISH"},
    )
    return message


def notice_message(envelope: Envelope, subject: str, lines: Sequence[str]) -> EmailMessage:
    message = EmailMessage()
    _headers(message, envelope, subject)
    message.set_content("\n".join(lines))
    return message


def refund_notice(envelope: Envelope, event: EventInfo, total: str) -> EmailMessage:
    return notice_message(
        envelope,
        f"Refund for {event.name}",
        [
            f"Your order for {event.name} ({_when(event)}) was refunded: {total}.",
            "Its tickets are no longer valid.",
        ],
    )


def cancellation_notice(envelope: Envelope, event: EventInfo) -> EmailMessage:
    return notice_message(
        envelope,
        f"Cancelled: {event.name}",
        [
            f"{event.name} ({_when(event)}) has been cancelled.",
            "Your tickets are no longer valid and your payment is refunded in full.",
        ],
    )


def endpoint_disabled_notice(envelope: Envelope, url: str, reason: str) -> EmailMessage:
    return notice_message(
        envelope,
        "A webhook endpoint of yours was disabled",
        [
            f"EventHub disabled your webhook endpoint {url}: {reason}.",
            "Fix the endpoint, then enable it again (updateWebhookEndpoint); "
            "redeliverWebhook sends what it missed.",
        ],
    )
