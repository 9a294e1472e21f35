"""Orders, their items, payment and tickets as clients see them."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from eventhub import models
from eventhub.global_ids import encode_id
from eventhub.models.statuses import OrderStatus, TicketStatus
from eventhub.resolvers.outcomes import Result
from eventhub.resolvers.paging import id_cursor
from eventhub.schema.common import (
    Count,
    Money,
    Node,
    PageInfo,
    UserError,
    errors_of,
    total_count_field,
)
from eventhub.schema.event_types import Event, TicketType
from eventhub.schema.users import User
from eventhub.services import access
from eventhub.services.pagination import Page

strawberry.enum(OrderStatus)  # the stored statuses are the API's enums
strawberry.enum(TicketStatus)


async def _tier(info: Info, tier_id: int, currency: str) -> TicketType:
    tier = await info.context.loaders.tier.load(tier_id)
    assert tier is not None
    return TicketType.from_row(tier, currency)


async def _event(info: Info, event_id: int) -> Event:
    event = await info.context.loaders.event.load(event_id)
    assert event is not None
    return Event.from_row(event)


@strawberry.type
class Ticket(Node):
    status: TicketStatus
    checked_in_at: datetime | None
    row: strawberry.Private[models.Ticket]

    @classmethod
    def from_row(cls, row: models.Ticket) -> Ticket:
        return cls(
            id=strawberry.ID(encode_id("Ticket", row.id)),
            status=TicketStatus(row.status),
            checked_in_at=row.checked_in_at,
            row=row,
        )

    @strawberry.field
    async def ticket_type(self, info: Info) -> TicketType:
        event = await info.context.loaders.event.load(self.row.event_id)
        return await _tier(info, self.row.ticket_type_id, event.currency)

    @strawberry.field
    async def event(self, info: Info) -> Event:
        return await _event(info, self.row.event_id)

    @strawberry.field(description="signed; exactly what the QR code encodes")
    def qr_token(self, info: Info) -> str:
        assert self.row.id is not None
        return str(info.context.app.signer.sign(self.row.id, self.row.event_id))

    @strawberry.field(description="GET returns image/svg+xml; ?format=png returns PNG")
    def qr_svg_url(self) -> str:
        return f"/tickets/{self.id}/qr"


@strawberry.type
class OrderItem:
    quantity: int
    unit_price: Money
    row: strawberry.Private[models.OrderItem]
    currency: strawberry.Private[str]

    @strawberry.field
    async def ticket_type(self, info: Info) -> TicketType:
        return await _tier(info, self.row.ticket_type_id, self.currency)


@strawberry.type
class Payment:
    provider: str = strawberry.field(description='"stripe" or "offline"')
    client_secret: str | None = strawberry.field(
        description="Stripe PaymentIntent client secret, for the browser"
    )
    status: str


@strawberry.type
class Order(Node):
    status: OrderStatus
    subtotal: Money
    discount: Money
    total: Money
    promo_code: str | None
    expires_at: datetime | None = strawberry.field(description="when an unpaid hold is released")
    created_at: datetime
    row: strawberry.Private[models.Order]

    @classmethod
    def from_row(cls, row: models.Order) -> Order:
        currency = row.currency
        return cls(
            id=strawberry.ID(encode_id("Order", row.id)),
            status=OrderStatus(row.status),
            subtotal=Money.of(row.subtotal_minor, currency),
            discount=Money.of(row.discount_minor, currency),
            total=Money.of(row.total_minor, currency),
            promo_code=row.promo_code,
            expires_at=row.expires_at if row.status == OrderStatus.PENDING else None,
            created_at=row.created_at,
            row=row,
        )

    @classmethod
    def maybe(cls, row: models.Order | None) -> Order | None:
        return None if row is None else cls.from_row(row)

    @strawberry.field
    async def event(self, info: Info) -> Event:
        return await _event(info, self.row.event_id)

    @strawberry.field
    async def buyer(self, info: Info) -> User:
        user = await info.context.loaders.user.load(self.row.buyer_id)
        assert user is not None
        return User.from_row(user)

    @strawberry.field
    async def items(self, info: Info) -> list[OrderItem]:
        rows = await info.context.loaders.items_by_order.load(self.row.id)
        return [
            OrderItem(
                quantity=i.quantity,
                unit_price=Money.of(i.unit_price_minor, self.row.currency),
                row=i,
                currency=self.row.currency,
            )
            for i in rows
        ]

    @strawberry.field
    async def payment(self, info: Info) -> Payment | None:
        row = self.row
        viewer = await info.context.viewer()
        secret = row.payment_client_secret if access.is_self(viewer, row.buyer_id) else None
        return Payment(
            provider=row.payment_provider, client_secret=secret, status=row.payment_status
        )

    @strawberry.field(description="issued once PAID")
    async def tickets(self, info: Info) -> list[Ticket]:
        rows = await info.context.loaders.tickets_by_order.load(self.row.id)
        return [Ticket.from_row(t) for t in rows]


@strawberry.type
class OrderEdge:
    node: Order
    cursor: str


@strawberry.type
class OrderConnection:
    edges: list[OrderEdge]
    page_info: PageInfo
    count: strawberry.Private[Count]
    total_count = total_count_field()

    @classmethod
    def of(cls, page: Page[models.Order]) -> OrderConnection:
        edges = [OrderEdge(node=Order.from_row(o), cursor=id_cursor(o.id)) for o in page.items]
        return cls(edges=edges, page_info=PageInfo.after(edges, page.has_next), count=page.count)


@strawberry.type
class OrderPayload:
    order: Order | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: Result[models.Order]) -> OrderPayload:
        return cls(order=Order.maybe(result.value), errors=errors_of(result.error))


@strawberry.input
class OrderItemInput:
    ticket_type_id: strawberry.ID
    quantity: int


@strawberry.input
class ReserveTicketsInput:
    event_id: strawberry.ID
    items: list[OrderItemInput]
    promo_code: str | None = None
    idempotency_key: str | None = strawberry.field(
        default=None, description="same key + same buyer = same order, never a second hold"
    )

    def lines(self) -> list[tuple[str, int]]:
        return [(str(item.ticket_type_id), item.quantity) for item in self.items]
