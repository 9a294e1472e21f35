"""`node(id)`: any object by its global id, if the viewer may see it."""

from __future__ import annotations

from typing import Any

from eventhub.models import AuditEntry, Ticket
from eventhub.resolvers.context import RequestContext
from eventhub.resolvers.ids import parse_id
from eventhub.services import access, orders


async def resolve_node(ctx: RequestContext, global_id: str) -> tuple[str, Any] | None:
    parsed = parse_id(global_id)
    if parsed is None:
        return None
    kind, pk = parsed
    viewer = await ctx.viewer()
    if kind == "User":
        # A user is visible to themself and to admins: emails are personal data.
        if access.may_see_user(viewer, pk):
            return kind, await ctx.loaders.user.load(pk)
        return None
    if kind == "Event":
        event = await ctx.loaders.event.load(pk)
        actor = await ctx.actor()
        return (kind, event) if event and access.may_see_event(actor, event) else None
    if kind == "TicketType":
        tier = await ctx.loaders.tier.load(pk)
        event = await ctx.loaders.event.load(tier.event_id) if tier else None
        if tier is None or event is None or not access.may_see_event(await ctx.actor(), event):
            return None
        return kind, (tier, event.currency)  # a tier's prices are shown in its event's currency
    if kind == "Order":
        order = await orders.get_order(ctx.session, pk)
        visible = order is not None and await orders.can_view(ctx.session, order, await ctx.actor())
        return (kind, order) if visible else None
    if kind == "Ticket":
        # A ticket is as private as its order: buyer, the event's organizer, admins.
        ticket = await ctx.session.get(Ticket, pk)
        order = await orders.get_order(ctx.session, ticket.order_id) if ticket else None
        visible = order is not None and await orders.can_view(ctx.session, order, await ctx.actor())
        return (kind, ticket) if visible else None
    if kind == "AuditEntry" and access.may_read_audit(viewer):
        entry = await ctx.session.get(AuditEntry, pk)
        return (kind, entry) if entry else None
    return None
