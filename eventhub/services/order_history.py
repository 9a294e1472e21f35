"""Lists of orders: a buyer's own, and the admin's filtered view; batch loads for the API."""

from __future__ import annotations

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import Order, OrderItem, Ticket
from eventhub.services.pagination import Page, fetch_page


async def buyer_orders(
    session: AsyncSession, buyer_id: int, *, limit: int, before_id: int | None
) -> Page[Order]:
    """Newest first."""
    return await fetch_page(
        session,
        Order,
        conditions=[Order.buyer_id == buyer_id],  # type: ignore[list-item]
        after=None if before_id is None else Order.id < before_id,  # type: ignore[operator]
        order_by=[Order.id.desc()],
        limit=limit,  # type: ignore[union-attr]
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
        conditions.append(Order.event_id == event_id)  # type: ignore[arg-type]
    if status is not None:
        conditions.append(Order.status == status)  # type: ignore[arg-type]
    return await fetch_page(
        session,
        Order,
        conditions=conditions,
        after=None if before_id is None else Order.id < before_id,  # type: ignore[operator]
        order_by=[Order.id.desc()],
        limit=limit,  # type: ignore[union-attr]
    )


async def load_items(session: AsyncSession, order_ids: list[int]) -> list[list[OrderItem]]:
    rows = await session.scalars(
        select(OrderItem).where(OrderItem.order_id.in_(order_ids)).order_by(OrderItem.id)  # type: ignore[attr-defined]
    )
    grouped: dict[int, list[OrderItem]] = {i: [] for i in order_ids}
    for item in rows:
        grouped[item.order_id].append(item)
    return [grouped[i] for i in order_ids]


async def load_tickets(session: AsyncSession, order_ids: list[int]) -> list[list[Ticket]]:
    rows = await session.scalars(
        select(Ticket).where(Ticket.order_id.in_(order_ids)).order_by(Ticket.id)  # type: ignore[attr-defined]
    )
    grouped: dict[int, list[Ticket]] = {i: [] for i in order_ids}
    for ticket in rows:
        grouped[ticket.order_id].append(ticket)
    return [grouped[i] for i in order_ids]
