"""E-mail as an outbox channel: tickets when an order is paid, and notices.

Carries order.paid (the buyer's tickets), order.refunded and event.cancelled
(notices to buyers) and webhook.endpoint_disabled (to the organizer). The
target is an address, decided when the message is routed. Each delivery's
Message-ID derives from the outbox message's uid and the delivery's row id, so
every attempt carries the same one; once the server accepts a message the
delivery is marked DELIVERED in its own transaction straight away, and a
worker that claims it later (after a lost lease) sees that and sends nothing.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import datetime
from email.message import EmailMessage
from email.utils import parseaddr
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from eventhub.global_ids import decode_id
from eventhub.models import Event, Order, OutboxDelivery, OutboxMessage, Ticket, TicketType, User
from eventhub.models.base import table_of, utc_now
from eventhub.models.statuses import EventStatus, OrderStatus
from eventhub.services import mail_compose, outbox
from eventhub.services.mail_compose import Envelope, EventInfo, TicketInfo
from eventhub.services.mail_transport import MailTransport
from eventhub.services.money import from_minor
from eventhub.services.outbox_delivery import Outcome
from eventhub.services.ticket_tokens import TicketSigner

DELIVERIES = table_of(OutboxDelivery)
TICKETS = table_of(Ticket)
KINDS = ("order.paid", "order.refunded", "event.cancelled", outbox.ENDPOINT_DISABLED)


def _order_pk(data: dict[str, Any]) -> int:
    return decode_id(data["order"]["id"], "Order") or 0


def _data(message: OutboxMessage) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(message.payload)["data"]
    return data


async def _email_of(session: AsyncSession, user_id: int) -> list[str]:
    user = await session.get(User, user_id)
    return [user.email] if user is not None and user.email else []


class EmailChannel:
    name = "email"

    def __init__(
        self, transport: MailTransport, signer: Callable[[], TicketSigner], sender: str
    ) -> None:
        self.transport = transport
        self.signer = signer  # the current key ring: the app swaps it when keys rotate
        self.sender = sender
        self.domain = parseaddr(sender)[1].rpartition("@")[2] or "localhost"

    def carries(self, kind: str) -> bool:
        return kind in KINDS

    async def targets(self, session: AsyncSession, message: OutboxMessage) -> list[str]:
        data = _data(message)
        if message.kind == outbox.ENDPOINT_DISABLED:
            return await _email_of(session, message.organizer_id or 0)
        if message.kind == "event.cancelled":
            return await self._buyers_of_cancelled(session, message)
        order = await session.get(Order, _order_pk(data))
        if order is None:
            return []
        if message.kind == "order.refunded":
            event = await session.get(Event, order.event_id)
            if event is not None and event.status == EventStatus.CANCELLED:
                return []  # the event's cancellation notice tells this buyer (one notice)
        return await _email_of(session, order.buyer_id)

    async def _buyers_of_cancelled(
        self, session: AsyncSession, message: OutboxMessage
    ) -> list[str]:
        """Buyers holding paid orders when the event was cancelled (refunded since, or not yet)."""
        rows = await session.scalars(
            select(col(User.email))
            .join(Order, col(Order.buyer_id) == col(User.id))
            .where(
                col(Order.event_id) == message.event_id,
                or_(
                    col(Order.status) == OrderStatus.PAID,
                    (col(Order.status) == OrderStatus.REFUNDED)
                    & (col(Order.closed_at) >= message.created_at),
                ),
            )
            .distinct()
        )
        return sorted(rows.all())

    def envelope(self, message: OutboxMessage, delivery: OutboxDelivery) -> Envelope:
        message_id = f"<{message.uid}.{delivery.id}@{self.domain}>"
        return Envelope(self.sender, delivery.target, message_id, message.created_at)

    async def deliver(
        self,
        sessions: async_sessionmaker[AsyncSession],
        message: OutboxMessage,
        delivery: OutboxDelivery,
    ) -> Outcome:
        if delivery.status != "PENDING":
            return Outcome(True)  # accepted by an earlier attempt
        async with sessions() as session:
            built = await self._compose(session, message, delivery)
            await session.commit()
        if isinstance(built, str):
            return Outcome(False, built, final=True)
        result = await self.transport.send(built)
        if not result.accepted:
            return Outcome(False, result.error, final=result.permanent)
        async with sessions() as session:
            await mark_accepted(session, delivery)
        return Outcome(True)

    async def _compose(
        self, session: AsyncSession, message: OutboxMessage, delivery: OutboxDelivery
    ) -> EmailMessage | str:
        """The message to send, or why there is none to send any more."""
        envelope = self.envelope(message, delivery)
        data = _data(message)
        if message.kind == outbox.ENDPOINT_DISABLED:
            endpoint = data["endpoint"]
            return mail_compose.endpoint_disabled_notice(
                envelope, endpoint["url"], endpoint["reason"]
            )
        event = await session.get(Event, message.event_id)
        if event is None or event.id is None:
            return "the event is gone"
        info = EventInfo(event.id, event.name, event.starts_at, event.ends_at, event.venue)
        if message.kind == "event.cancelled":
            return mail_compose.cancellation_notice(envelope, info)
        order = await session.get(Order, _order_pk(data))
        if order is None or order.id is None:
            return "the order is gone"
        if message.kind == "order.refunded":
            total = f"{from_minor(order.total_minor, order.currency)} {order.currency}"
            return mail_compose.refund_notice(envelope, info, total)
        if order.status != OrderStatus.PAID:
            return f"the order is {order.status} now; its tickets are no longer valid"
        tickets = await self._tickets(session, order.id)
        # QR codes cost ~15 ms each to draw: off the event loop, which serves requests.
        return await asyncio.to_thread(
            mail_compose.ticket_message, envelope, info, tickets, self.domain
        )

    async def _tickets(self, session: AsyncSession, order_id: int) -> list[TicketInfo]:
        rows = await session.execute(
            select(TICKETS.c.id, TICKETS.c.event_id, col(TicketType.name))
            .join(TicketType, col(TicketType.id) == col(Ticket.ticket_type_id))
            .where(TICKETS.c.order_id == order_id)
            .order_by(TICKETS.c.id)
        )
        signer = self.signer()
        return [
            TicketInfo(ticket_id, signer.sign(ticket_id, event_id), tier)
            for ticket_id, event_id, tier in rows.all()
        ]


async def mark_accepted(
    session: AsyncSession, delivery: OutboxDelivery, now: datetime | None = None
) -> None:
    """The server took it: DELIVERED now, before anything else can fail, so no retry resends."""
    now = now or utc_now()
    await session.execute(
        update(DELIVERIES)
        .where(DELIVERIES.c.id == delivery.id, DELIVERIES.c.status == "PENDING")
        .values(status="DELIVERED", finished_at=now, last_error=None)
    )
    await session.commit()
