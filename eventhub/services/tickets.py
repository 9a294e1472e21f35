"""Tickets: one per paid seat, issued in the payment's transaction, voided on refund."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import OrderItem, Ticket


def issue_tickets(session: AsyncSession, order_id: int, event_id: int, items: list[OrderItem]) -> list[Ticket]:
    """Add one VALID ticket per seat to the caller's transaction."""
    tickets = [
        Ticket(order_id=order_id, event_id=event_id, ticket_type_id=item.ticket_type_id)
        for item in items
        for _ in range(item.quantity)
    ]
    session.add_all(tickets)
    return tickets


async def void_tickets(session: AsyncSession, order_id: int) -> None:
    await session.execute(
        update(Ticket)
        .where(Ticket.order_id == order_id, Ticket.status != "VOID")  # type: ignore[arg-type]
        .values(status="VOID")
        .execution_options(synchronize_session=False)
    )
