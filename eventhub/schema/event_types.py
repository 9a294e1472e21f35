"""Events and ticket tiers as clients see them; nested fields go through dataloaders."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import Enum

import strawberry
from strawberry.types import Info

from eventhub import models
from eventhub.global_ids import encode_id
from eventhub.models.statuses import EventStatus
from eventhub.resolvers.events import event_cursor
from eventhub.resolvers.outcomes import Result
from eventhub.schema.common import (
    Count,
    Money,
    Node,
    PageInfo,
    UserError,
    errors_of,
    total_count_field,
)
from eventhub.schema.directives import Cost
from eventhub.schema.users import User
from eventhub.services import event_listings, inventory
from eventhub.services.events import EventChanges, NewEvent, NewTicketType, Unchanged
from eventhub.services.pagination import Page
from eventhub.services.promos import NewPromoCode

strawberry.enum(EventStatus)  # the stored statuses are the API's enum


@strawberry.enum
class DiscountKind(Enum):
    PERCENT = "PERCENT"
    FIXED = "FIXED"


@strawberry.type
class TicketType(Node):
    name: str
    price: Money
    limit: int = strawberry.field(description="tier cap")
    sold: int
    remaining: int
    sales_start_at: datetime | None
    sales_end_at: datetime | None

    @classmethod
    def from_row(cls, row: event_listings.TierRow, currency: str) -> TicketType:
        return cls(
            id=strawberry.ID(encode_id("TicketType", row.id)),
            name=row.name,
            price=Money.of(row.price_minor, currency),
            limit=row.seat_limit,
            sold=row.sold,
            remaining=inventory.tier_remaining(row),
            sales_start_at=row.sales_start_at,
            sales_end_at=row.sales_end_at,
        )


@strawberry.type
class Event(Node):
    name: str
    description: str | None
    venue: str | None
    starts_at: datetime
    ends_at: datetime | None
    status: EventStatus
    capacity: int = strawberry.field(description="whole-event cap, shared by all ticket types")
    sold: int = strawberry.field(description="seats taken: paid + held by pending orders")
    currency: str
    max_per_customer: int | None = strawberry.field(
        description="tickets one account may hold across its live orders; null = no cap"
    )
    row: strawberry.Private[models.Event]

    @classmethod
    def from_row(cls, row: models.Event) -> Event:
        return cls(
            id=strawberry.ID(encode_id("Event", row.id)),
            name=row.name,
            description=row.description,
            venue=row.venue,
            starts_at=row.starts_at,
            ends_at=row.ends_at,
            status=EventStatus(row.status),
            capacity=row.capacity,
            sold=row.sold,
            currency=row.currency,
            max_per_customer=row.max_per_customer,
            row=row,
        )

    @classmethod
    def maybe(cls, row: models.Event | None) -> Event | None:
        return None if row is None else cls.from_row(row)

    @strawberry.field
    def image_url(self) -> str | None:
        return f"/events/{self.id}/image" if self.row.image_path else None

    @strawberry.field
    async def organizer(self, info: Info) -> User:
        user = await info.context.loaders.user.load(self.row.organizer_id)
        assert user is not None
        return User.from_row(user)

    @strawberry.field(directives=[Cost(weight=1)])
    async def ticket_types(self, info: Info) -> list[TicketType]:
        tiers = await info.context.loaders.tiers_by_event.load(self.row.id)
        return [TicketType.from_row(t, self.currency) for t in tiers]

    @strawberry.field(description="min(capacity - sold, sum of tier remainders)")
    async def remaining(self, info: Info) -> int:
        loaders = info.context.loaders
        tiers: list[event_listings.TierRow] = await loaders.tiers_by_event.load(self.row.id)
        return inventory.event_remaining(self.capacity, self.sold, tiers)


@strawberry.type
class EventEdge:
    node: Event
    cursor: str


@strawberry.type
class EventConnection:
    edges: list[EventEdge]
    page_info: PageInfo
    count: strawberry.Private[Count]
    total_count = total_count_field()

    @classmethod
    def of(cls, page: Page[models.Event]) -> EventConnection:
        edges = [EventEdge(node=Event.from_row(e), cursor=event_cursor(e)) for e in page.items]
        return cls(edges=edges, page_info=PageInfo.after(edges, page.has_next), count=page.count)


@strawberry.type
class EventPayload:
    event: Event | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: Result[models.Event]) -> EventPayload:
        return cls(event=Event.maybe(result.value), errors=errors_of(result.error))


@strawberry.input
class TicketTypeInput:
    name: str
    price: Decimal = strawberry.field(description='"0" makes a free tier')
    limit: int
    sales_start_at: datetime | None = None
    sales_end_at: datetime | None = None

    def to_data(self) -> NewTicketType:
        return NewTicketType(
            self.name, self.price, self.limit, self.sales_start_at, self.sales_end_at
        )


@strawberry.input
class PromoCodeInput:
    code: str = strawberry.field(description="case-insensitive, unique per event")
    kind: DiscountKind
    value: Decimal = strawberry.field(description="PERCENT: 0-100; FIXED: amount off each ticket")
    max_uses: int | None = strawberry.field(
        default=None, description="null = unlimited; each order that uses it counts once"
    )
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    ticket_type_names: list[str] | None = strawberry.field(
        default=None, description="null = every tier"
    )

    def to_data(self) -> NewPromoCode:
        return NewPromoCode(
            self.code,
            self.kind.value,
            self.value,
            self.max_uses,
            self.valid_from,
            self.valid_until,
            self.ticket_type_names,
        )


@strawberry.input
class CreateEventInput:
    name: str
    starts_at: datetime
    capacity: int
    ticket_types: list[TicketTypeInput]
    description: str | None = None
    venue: str | None = None
    ends_at: datetime | None = None
    currency: str | None = "USD"
    max_per_customer: int | None = None
    promo_codes: list[PromoCodeInput] | None = strawberry.field(default_factory=list)

    def to_data(self) -> NewEvent:
        return NewEvent(
            name=self.name,
            starts_at=self.starts_at,
            capacity=self.capacity,
            ticket_types=[t.to_data() for t in self.ticket_types],
            description=self.description,
            venue=self.venue,
            ends_at=self.ends_at,
            currency=self.currency or "USD",
            promo_codes=[p.to_data() for p in self.promo_codes or []],
            max_per_customer=self.max_per_customer,
        )


@strawberry.input
class UpdateEventInput:
    name: str | None = None
    description: str | None = None
    venue: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    capacity: int | None = strawberry.field(
        default=None, description="never below what is already sold"
    )
    max_per_customer: int | None = strawberry.field(
        default=strawberry.UNSET, description="null removes the cap; omitted leaves it"
    )

    def to_data(self) -> EventChanges:
        cap = self.max_per_customer
        return EventChanges(
            self.name,
            self.description,
            self.venue,
            self.starts_at,
            self.ends_at,
            self.capacity,
            Unchanged.KEEP if cap is strawberry.UNSET else cap,
        )


@strawberry.input
class EventFilter:
    search: str | None = None
    starts_after: datetime | None = None
    starts_before: datetime | None = None

    def to_data(self) -> event_listings.EventFilter:
        return event_listings.EventFilter(self.search, self.starts_after, self.starts_before)
