"""`node(id)`: one loader per node type, each answering the row only if the viewer may see it.

The table naming which loader and which GraphQL type serve a type name is
`schema/nodes.py: NODE_TYPES`; the node query and anything else that resolves a
global id go through it. Reads go through the request's DataLoaders and services.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from eventhub.models import AuditEntry, Event, Order, Ticket, TicketType, User
from eventhub.resolvers.context import RequestContext
from eventhub.services import access, audit, orders, tickets

NodeLoader = Callable[[RequestContext, int], Awaitable[Any | None]]


async def visible_user(ctx: RequestContext, pk: int) -> User | None:
    """A user is visible to themself and to admins: emails are personal data."""
    if not access.may_see_user(await ctx.viewer(), pk):
        return None
    return await ctx.loaders.user.load(pk)


async def visible_event(ctx: RequestContext, pk: int) -> Event | None:
    event = await ctx.loaders.event.load(pk)
    return event if event and access.may_see_event(await ctx.actor(), event) else None


async def visible_tier(ctx: RequestContext, pk: int) -> tuple[TicketType, str] | None:
    """The tier with its event's currency: a tier's prices are shown in it."""
    tier = await ctx.loaders.tier.load(pk)
    event = await ctx.loaders.event.load(tier.event_id) if tier else None
    if tier is None or event is None or not access.may_see_event(await ctx.actor(), event):
        return None
    return tier, event.currency


async def visible_order(ctx: RequestContext, pk: int) -> Order | None:
    order = await orders.get_order(ctx.session, pk)
    visible = order is not None and await orders.can_view(ctx.session, order, await ctx.actor())
    return order if visible else None


async def visible_ticket(ctx: RequestContext, pk: int) -> Ticket | None:
    """A ticket is as private as its order: buyer, the event's organizer, admins."""
    ticket = await tickets.get_ticket(ctx.session, pk)
    order = await orders.get_order(ctx.session, ticket.order_id) if ticket else None
    visible = order is not None and await orders.can_view(ctx.session, order, await ctx.actor())
    return ticket if visible else None


async def visible_audit_entry(ctx: RequestContext, pk: int) -> AuditEntry | None:
    if not access.may_read_audit(await ctx.viewer()):
        return None
    return await audit.get_entry(ctx.session, pk)
