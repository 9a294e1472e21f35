"""Writing outgoing messages: one outbox row in the transaction of the change it reports.

Every hook here only adds an INSERT to the caller's transaction, so a change
that rolls back leaves no message and a committed one always has its message,
however the process dies afterwards. Delivery is `outbox_delivery`'s business.

Payloads follow the Standard Webhooks shape `{"type", "timestamp", "data"}` and
carry the API's global ids (base64url of "Type:pk", as the GraphQL API shows them).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, Select, insert, literal, select, union_all
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.types import Integer, Text

from eventhub.global_ids import encode_id
from eventhub.models import Event, Order, OutboxMessage, Ticket
from eventhub.models.base import UTCDateTime, table_of, utc_now
from eventhub.models.statuses import OrderStatus
from eventhub.services.money import from_minor

MESSAGES = table_of(OutboxMessage)
EVENTS = table_of(Event)

# What organizers' endpoints may subscribe to.
ORDER_KINDS = {
    OrderStatus.PAID: "order.paid",
    OrderStatus.REFUNDED: "order.refunded",
    OrderStatus.CANCELLED: "order.cancelled",
}
EVENT_KINDS = ("event.published", "event.updated", "event.cancelled", "event.sold_out")
KINDS = (*ORDER_KINDS.values(), "ticket.checked_in", *EVENT_KINDS)
# Notices for an organizer themself (by e-mail), never sent to webhook endpoints.
ENDPOINT_DISABLED = "webhook.endpoint_disabled"


def global_id(type_name: str, pk: int | None) -> str:
    """The id the GraphQL API shows for this row: one format, eventhub/global_ids.py."""
    return encode_id(type_name, pk)


def new_uid() -> str:
    """A message id: the `webhook-id` (and Message-ID) of every attempt to send it."""
    return f"msg_{uuid.uuid4().hex}"


def _payload(kind: str, data: dict[str, Any], now: datetime) -> str:
    body = {"type": kind, "timestamp": now.isoformat().replace("+00:00", "Z"), "data": data}
    return json.dumps(body, separators=(",", ":"), default=_json_value)


def _json_value(value: object) -> str:
    """DateTimes as ISO 8601 in UTC with a Z, as the GraphQL API writes them."""
    if isinstance(value, datetime):
        return value.isoformat().replace("+00:00", "Z")
    return str(value)


def _rows_from_event(
    kind: str, event_id: int, data: dict[str, Any], now: datetime, *, sold_out: bool = False
) -> Select[Any]:
    """SELECT one message row for the event (none if it does not exist, or is not sold out)."""
    source = select(  # typed binds: asyncpg gets casts, SQLite the column's own format
        literal(new_uid(), Text()),
        literal(kind, Text()),
        EVENTS.c.organizer_id,
        literal(event_id, Integer()),
        literal(_payload(kind, data, now), Text()),
        literal(now, UTCDateTime()),
    ).where(EVENTS.c.id == event_id)
    return source.where(EVENTS.c.sold >= EVENTS.c.capacity) if sold_out else source


COLUMNS = ["uid", "kind", "organizer_id", "event_id", "payload", "created_at"]


async def emit(
    session: AsyncSession, kind: str, event_id: int, data: dict[str, Any], *, sold_out: bool = False
) -> None:
    """Add a message about an event (or its orders, tickets) to the caller's transaction.

    One INSERT … SELECT: the organizer is read from the event in the same statement.
    With `sold_out` the row is written only if the event has no seat left now; the
    caller holds the event row's lock (it has just taken seats), so of racing bookings
    exactly the one that took the last seat writes it.
    """
    rows = _rows_from_event(kind, event_id, data, utc_now(), sold_out=sold_out)
    await session.execute(insert(MESSAGES).from_select(COLUMNS, rows))


def notify_organizer(
    session: AsyncSession, organizer_id: int, kind: str, data: dict[str, Any]
) -> None:
    """A notice for the organizer (e.g. their endpoint was disabled); e-mail delivers these."""
    now = utc_now()
    session.add(
        OutboxMessage(
            uid=new_uid(),
            kind=kind,
            organizer_id=organizer_id,
            payload=_payload(kind, data, now),
            created_at=now,
        )
    )


def order_data(order: Order, status: str) -> dict[str, Any]:
    return {
        "order": {
            "id": global_id("Order", order.id),
            "status": status,
            "total": str(from_minor(order.total_minor, order.currency)),
            "currency": order.currency,
            "event": {"id": global_id("Event", order.event_id)},
            "buyer": {"id": global_id("User", order.buyer_id)},
        }
    }


async def order_changed(session: AsyncSession, order: Order, status: OrderStatus) -> None:
    """The order just became `status` (PAID, REFUNDED or CANCELLED) in this transaction."""
    data = order_data(order, status)
    await emit(session, ORDER_KINDS[status], order.event_id, data)


def event_data(event: Event) -> dict[str, Any]:
    return {
        "event": {
            "id": global_id("Event", event.id),
            "name": event.name,
            "status": event.status,
            "startsAt": event.starts_at,
            "endsAt": event.ends_at,
            "venue": event.venue,
            "capacity": event.capacity,
        }
    }


async def event_changed(session: AsyncSession, event: Event, kind: str) -> None:
    """event.published / event.updated / event.cancelled, in the change's transaction."""
    assert event.id is not None
    await emit(session, kind, event.id, event_data(event))


async def after_booking(session: AsyncSession, order: Order, event: Event) -> None:
    """order.paid when paid at once, event.sold_out if this booking took the last seat.

    One statement: it runs while the booking holds the event row's lock, so one round
    trip, not two, is what the outbox adds to the time that lock is held.
    """
    now = utc_now()
    sold_out = _rows_from_event(
        "event.sold_out", order.event_id, event_data(event), now, sold_out=True
    )
    if order.status == OrderStatus.PAID:
        paid = _rows_from_event(
            "order.paid", order.event_id, order_data(order, OrderStatus.PAID), now
        )
        rows: Select[Any] | CompoundSelect[Any] = union_all(paid, sold_out)
    else:
        rows = sold_out
    await session.execute(insert(MESSAGES).from_select(COLUMNS, rows))


async def late_payment_accepted(session: AsyncSession, order: Order, event: Event | None) -> None:
    """A released hold paid after all and re-took its seats: paid, and maybe sold out."""
    await order_changed(session, order, OrderStatus.PAID)
    if event is not None:
        await emit(session, "event.sold_out", order.event_id, event_data(event), sold_out=True)


async def ticket_checked_in(session: AsyncSession, ticket: Ticket) -> None:
    data = {
        "ticket": {
            "id": global_id("Ticket", ticket.id),
            "checkedInAt": ticket.checked_in_at,
            "order": {"id": global_id("Order", ticket.order_id)},
            "event": {"id": global_id("Event", ticket.event_id)},
        }
    }
    await emit(session, "ticket.checked_in", ticket.event_id, data)
