"""Tickets: one per paid seat, issued in the payment's transaction, voided on refund."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import Event, Order, OrderItem, Ticket
from eventhub.models.statuses import TicketStatus
from eventhub.services import access, audit


def issue_tickets(
    session: AsyncSession, order_id: int, event_id: int, items: list[OrderItem]
) -> list[Ticket]:
    """Add one VALID ticket per seat to the caller's transaction."""
    tickets = [
        Ticket(order_id=order_id, event_id=event_id, ticket_type_id=item.ticket_type_id)
        for item in items
        for _ in range(item.quantity)
    ]
    session.add_all(tickets)
    return tickets


def ticket_rows(
    order_id: int, event_id: int, seats: list[tuple[int, int]], now: datetime
) -> list[dict[str, Any]]:
    """One VALID ticket per seat as Core insert rows; `seats` is (tier id, quantity) pairs."""
    return [
        {
            "order_id": order_id,
            "event_id": event_id,
            "ticket_type_id": tier_id,
            "status": TicketStatus.VALID,
            "created_at": now,
        }
        for tier_id, quantity in seats
        for _ in range(quantity)
    ]


async def void_tickets(session: AsyncSession, order_id: int) -> None:
    await session.execute(
        update(Ticket)
        .where(col(Ticket.order_id) == order_id, col(Ticket.status) != TicketStatus.VOID)
        .values(status=TicketStatus.VOID)
        .execution_options(synchronize_session=False)
    )


async def checked_in_count(session: AsyncSession, order_id: int) -> int:
    """How many of the order's tickets were admitted at the door."""
    count = await session.scalar(
        select(func.count())
        .select_from(Ticket)
        .where(col(Ticket.order_id) == order_id, col(Ticket.status) == TicketStatus.USED)
    )
    return int(count or 0)


async def get_ticket(session: AsyncSession, ticket_id: int) -> Ticket | None:
    return await session.get(Ticket, ticket_id)


async def viewable_ticket(
    session: AsyncSession, ticket_id: int, actor: audit.Actor
) -> Ticket | None:
    """The ticket if the actor bought it, organizes its event or is an admin."""
    ticket = await session.get(Ticket, ticket_id)
    if ticket is None or actor.user_id is None:
        return None
    if access.is_admin(actor):
        return ticket
    owners = (
        await session.execute(
            select(col(Order.buyer_id), col(Event.organizer_id))
            .join(Event, col(Event.id) == col(Order.event_id))
            .where(col(Order.id) == ticket.order_id)
        )
    ).first()
    return ticket if owners is not None and access.may_see_order(actor, *owners) else None
