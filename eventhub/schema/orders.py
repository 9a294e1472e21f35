"""Root fields for orders: reserving, cancelling, refunding and reading."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from eventhub.models.statuses import OrderStatus
from eventhub.resolvers import orders
from eventhub.schema.order_types import (
    Order,
    OrderConnection,
    OrderPayload,
    ReserveTicketsInput,
)
from eventhub.schema.permissions import requires_role
from eventhub.schema.roles import Role

SIGNED_IN = (Role.CUSTOMER, Role.ORGANIZER, Role.STAFF, Role.ADMIN)


@strawberry.type
class OrderQuery:
    @strawberry.field(description="buyer, the event's organizer, admins")
    async def order(self, info: Info, id: strawberry.ID) -> Order | None:
        return Order.maybe(await orders.visible_order(info.context, id))

    @strawberry.field(extensions=requires_role(*SIGNED_IN))
    async def my_orders(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> OrderConnection:
        return OrderConnection.of(await orders.mine(info.context, first, after))

    @strawberry.field(extensions=requires_role(Role.ADMIN))
    async def orders(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        event_id: strawberry.ID | None = None,
        status: OrderStatus | None = None,
    ) -> OrderConnection:
        page = await orders.all_orders(
            info.context, first, after, event_id, status.value if status else None
        )
        return OrderConnection.of(page)


@strawberry.type
class OrderMutation:
    @strawberry.mutation(extensions=requires_role(*SIGNED_IN))
    async def reserve_tickets(self, info: Info, input: ReserveTicketsInput) -> OrderPayload:
        result = await orders.reserve(
            info.context, input.event_id, input.lines(), input.promo_code, input.idempotency_key
        )
        return OrderPayload.of(result)

    @strawberry.mutation(
        extensions=requires_role(*SIGNED_IN),
        description="buyer: release a hold, or refund a paid order before the event",
    )
    async def cancel_order(self, info: Info, id: strawberry.ID) -> OrderPayload:
        return OrderPayload.of(await orders.cancel(info.context, id))

    @strawberry.mutation(extensions=requires_role(Role.ORGANIZER, Role.ADMIN))
    async def refund_order(
        self, info: Info, id: strawberry.ID, reason: str | None = None
    ) -> OrderPayload:
        return OrderPayload.of(await orders.refund(info.context, id, reason))
