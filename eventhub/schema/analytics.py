"""Analytics types and root fields: per event, per organizer, platform-wide."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.types import Info

from eventhub import models
from eventhub.resolvers import analytics as resolve
from eventhub.schema.common import Money
from eventhub.schema.directives import Cost
from eventhub.schema.event_types import Event, TicketType
from eventhub.schema.permissions import requires_role
from eventhub.schema.roles import Role
from eventhub.services import analytics

FromArg = Annotated[datetime | None, strawberry.argument(name="from")]


@strawberry.type
class TierSales:
    ticket_type: TicketType
    sold: int
    revenue: Money


@strawberry.type
class TimeBucket:
    start: datetime
    tickets_sold: int
    revenue: Money


@strawberry.type(description='groups under 5 people merge into "other"')
class DemographicBucket:
    label: str
    count: int


def _buckets(pairs: list[tuple[str, int]]) -> list[DemographicBucket]:
    return [DemographicBucket(label=label, count=count) for label, count in pairs]


@strawberry.type
class EventAnalytics:
    event: Event
    tickets_sold: int
    gross_revenue: Money
    discounts: Money
    refunds: Money
    net_revenue: Money
    capacity_utilization: float = strawberry.field(description="sold / capacity, 0..1")
    checked_in: int
    row: strawberry.Private[models.Event]
    start: strawberry.Private[datetime | None]
    end: strawberry.Private[datetime | None]

    @classmethod
    def of(
        cls,
        row: models.Event,
        totals: analytics.Totals,
        start: datetime | None,
        end: datetime | None,
    ) -> EventAnalytics:
        def money(minor: int) -> Money:
            return Money.of(minor, row.currency)

        return cls(
            event=Event.from_row(row),
            tickets_sold=totals.tickets_sold,
            gross_revenue=money(totals.gross_minor),
            discounts=money(totals.discounts_minor),
            refunds=money(totals.refunds_minor),
            net_revenue=money(totals.net_minor),
            capacity_utilization=min(row.sold / row.capacity, 1.0) if row.capacity else 0.0,
            checked_in=totals.checked_in,
            row=row,
            start=start,
            end=end,
        )

    @strawberry.field
    async def by_ticket_type(self, info: Info) -> list[TierSales]:
        sales = await resolve.tier_sales(info.context, self.row, self.start, self.end)
        return [
            TierSales(
                ticket_type=TicketType.from_row(tier, self.row.currency),
                sold=sold,
                revenue=Money.of(revenue_minor, self.row.currency),
            )
            for tier, sold, revenue_minor in sales
        ]

    @strawberry.field
    async def sales_over_time(self, info: Info, bucket: str = "day") -> list[TimeBucket]:
        rows = await resolve.sales_over_time(info.context, self.row, bucket, self.start, self.end)
        return [
            TimeBucket(
                start=b.start,
                tickets_sold=b.tickets,
                revenue=Money.of(b.revenue_minor, self.row.currency),
            )
            for b in rows
        ]

    @strawberry.field
    async def age_bands(self, info: Info) -> list[DemographicBucket]:
        return _buckets(await resolve.age_bands(info.context, self.row))

    @strawberry.field
    async def countries(self, info: Info) -> list[DemographicBucket]:
        return _buckets(await resolve.countries(info.context, self.row))

    @strawberry.field
    async def promo_code_uses(self, info: Info) -> list[DemographicBucket]:
        uses = await resolve.promo_code_uses(info.context, self.row, self.start, self.end)
        return _buckets(uses)


@strawberry.type
class EventSales:
    event: Event
    tickets_sold: int


@strawberry.type(description="totals across events; revenue is split by currency")
class SalesTotals:
    events: int
    orders: int
    tickets_sold: int
    net_revenue: list[Money]

    @classmethod
    def of(cls, totals: analytics.OrganizerTotals) -> SalesTotals:
        return cls(
            events=totals.events,
            orders=totals.orders,
            tickets_sold=totals.tickets_sold,
            net_revenue=[Money.of(n, c) for c, n in sorted(totals.currency_totals.items())],
        )


@strawberry.type
class PlatformAnalytics:
    totals: SalesTotals
    users_by_role: list[DemographicBucket]
    top_events: list[EventSales]


@strawberry.type
class AnalyticsQuery:
    @strawberry.field(
        extensions=requires_role(Role.ORGANIZER, Role.ADMIN), directives=[Cost(weight=20)]
    )
    async def event_analytics(
        self,
        info: Info,
        event_id: strawberry.ID,
        from_: FromArg = None,
        to: datetime | None = None,
    ) -> EventAnalytics:
        row = await resolve.analysed_event(info.context, event_id)
        totals = await resolve.event_totals(info.context, row, from_, to)
        return EventAnalytics.of(row, totals, from_, to)

    @strawberry.field(extensions=requires_role(Role.ORGANIZER), directives=[Cost(weight=20)])
    async def organizer_analytics(
        self,
        info: Info,
        from_: FromArg = None,
        to: datetime | None = None,
    ) -> SalesTotals:
        return SalesTotals.of(await resolve.organizer_totals(info.context, from_, to))

    @strawberry.field(extensions=requires_role(Role.ADMIN), directives=[Cost(weight=50)])
    async def platform_analytics(
        self,
        info: Info,
        from_: FromArg = None,
        to: datetime | None = None,
    ) -> PlatformAnalytics:
        totals = await resolve.platform_totals(info.context, from_, to)
        top = await resolve.top_events(info.context)
        return PlatformAnalytics(
            totals=SalesTotals.of(totals),
            users_by_role=_buckets(await resolve.users_by_role(info.context)),
            top_events=[EventSales(event=Event.from_row(row), tickets_sold=n) for row, n in top],
        )
