"""Lists of orders: a buyer's own, and the admin's filtered view; batch loads for the API."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import Order, OrderItem, Ticket
from eventhub.services.pagination import Page, fetch_page


async def buyer_orders(
    session: AsyncSession, buyer_id: int, *, limit: int, before_id: int | None
) -> Page[Order]:
    """Newest first."""
    return await fetch_page(
        session,
        Order,
        conditions=[col(Order.buyer_id) == buyer_id],
        after=None if before_id is None else col(Order.id) < before_id,
        order_by=[col(Order.id).desc()],
        limit=limit,
    )


async def all_orders(
    session: AsyncSession,
    *,
    limit: int,
    before_id: int | None,
    event_id: int | None,
    status: str | None,
) -> Page[Order]:
    conditions: list[ColumnElement[bool]] = []
    if event_id is not None:
        conditions.append(col(Order.event_id) == event_id)
    if status is not None:
        conditions.append(col(Order.status) == status)
    return await fetch_page(
        session,
        Order,
        conditions=conditions,
        after=None if before_id is None else col(Order.id) < before_id,
        order_by=[col(Order.id).desc()],
        limit=limit,
    )


async def load_items(session: AsyncSession, order_ids: list[int]) -> list[list[OrderItem]]:
    rows = await session.scalars(
        select(OrderItem).where(col(OrderItem.order_id).in_(order_ids)).order_by(col(OrderItem.id))
    )
    grouped: dict[int, list[OrderItem]] = {i: [] for i in order_ids}
    for item in rows:
        grouped[item.order_id].append(item)
    return [grouped[i] for i in order_ids]


async def load_tickets(session: AsyncSession, order_ids: list[int]) -> list[list[Ticket]]:
    rows = await session.scalars(
        select(Ticket).where(col(Ticket.order_id).in_(order_ids)).order_by(col(Ticket.id))
    )
    grouped: dict[int, list[Ticket]] = {i: [] for i in order_ids}
    for ticket in rows:
        grouped[ticket.order_id].append(ticket)
    return [grouped[i] for i in order_ids]
