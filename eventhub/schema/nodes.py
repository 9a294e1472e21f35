"""The one table of node types: global id type name -> (visibility-checked loader, GraphQL type).

`node(id)` reads it; a new Node type is one row here, a loader in resolvers/nodes.py
and a `from_row` on its GraphQL type.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eventhub.global_ids import parse_id
from eventhub.resolvers import nodes, webhooks
from eventhub.resolvers.context import RequestContext
from eventhub.schema.audit import AuditEntry
from eventhub.schema.common import Node
from eventhub.schema.event_types import Event, TicketType
from eventhub.schema.order_types import Order, Ticket
from eventhub.schema.users import User
from eventhub.schema.webhook_types import WebhookDelivery, WebhookEndpoint

NODE_TYPES: dict[str, tuple[nodes.NodeLoader, Callable[[Any], Node]]] = {
    "User": (nodes.visible_user, User.from_row),
    "Event": (nodes.visible_event, Event.from_row),
    "TicketType": (nodes.visible_tier, lambda found: TicketType.from_row(*found)),
    "Order": (nodes.visible_order, Order.from_row),
    "Ticket": (nodes.visible_ticket, Ticket.from_row),
    "AuditEntry": (nodes.visible_audit_entry, AuditEntry.from_row),
    "WebhookEndpoint": (webhooks.visible_endpoint, WebhookEndpoint.from_row),
    "WebhookDelivery": (webhooks.visible_delivery, WebhookDelivery.from_entry),
}


async def find_node(ctx: RequestContext, global_id: str) -> Node | None:
    """The object behind a global id; None if not ours, gone, or not the viewer's to see."""
    parsed = parse_id(global_id)
    if parsed is None:
        return None
    await ctx.viewer()  # resolved first for every id, as before the table existed
    type_name, pk = parsed
    entry = NODE_TYPES.get(type_name)
    if entry is None:
        return None
    load, to_type = entry
    row = await load(ctx, pk)
    return None if row is None else to_type(row)
