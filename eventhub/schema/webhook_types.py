"""Webhook endpoints, their deliveries and attempts, as organizers see them."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from eventhub import models
from eventhub.global_ids import encode_id
from eventhub.resolvers import webhooks
from eventhub.resolvers.paging import id_cursor
from eventhub.schema.common import Count, Node, PageInfo, UserError, total_count_field
from eventhub.schema.event_types import Event
from eventhub.services.pagination import Page
from eventhub.services.webhook_log import LoggedDelivery


@strawberry.enum(description="what an endpoint hears; the payload's `type` is the value's name")
class WebhookEventType(Enum):
    ORDER_PAID = "order.paid"
    ORDER_REFUNDED = "order.refunded"
    ORDER_CANCELLED = "order.cancelled"
    TICKET_CHECKED_IN = "ticket.checked_in"
    EVENT_PUBLISHED = "event.published"
    EVENT_UPDATED = "event.updated"
    EVENT_CANCELLED = "event.cancelled"
    EVENT_SOLD_OUT = "event.sold_out"


@strawberry.enum
class WebhookDeliveryStatus(Enum):
    PENDING = "PENDING"
    DELIVERED = "DELIVERED"
    FAILED = "FAILED"


@strawberry.type
class WebhookAttempt:
    at: datetime
    status_code: int | None
    latency_ms: int
    response_excerpt: str | None
    error: str | None


@strawberry.type
class WebhookDelivery(Node):
    webhook_id: str = strawberry.field(description="the webhook-id header, the same on retries")
    event_type: str
    payload: str = strawberry.field(description="the JSON body as sent")
    status: WebhookDeliveryStatus
    attempt_count: int
    next_attempt_at: datetime | None
    last_error: str | None
    created_at: datetime
    finished_at: datetime | None
    attempts: list[WebhookAttempt]

    @classmethod
    def from_entry(cls, entry: LoggedDelivery) -> WebhookDelivery:
        d, m = entry.delivery, entry.message
        return cls(
            id=strawberry.ID(encode_id("WebhookDelivery", d.id)),
            webhook_id=m.uid,
            event_type=m.kind,
            payload=m.payload,
            status=WebhookDeliveryStatus(d.status),
            attempt_count=d.attempts,
            next_attempt_at=d.next_attempt_at if d.status == "PENDING" else None,
            last_error=d.last_error,
            created_at=d.created_at,
            finished_at=d.finished_at,
            attempts=[
                WebhookAttempt(
                    at=a.at,
                    status_code=a.status_code,
                    latency_ms=a.latency_ms,
                    response_excerpt=a.response_excerpt,
                    error=a.error,
                )
                for a in entry.attempts
            ],
        )


@strawberry.type
class WebhookDeliveryEdge:
    node: WebhookDelivery
    cursor: str


@strawberry.type
class WebhookDeliveryConnection:
    edges: list[WebhookDeliveryEdge]
    page_info: PageInfo
    count: strawberry.Private[Count]
    total_count = total_count_field()

    @classmethod
    def of(cls, page: Page[LoggedDelivery]) -> WebhookDeliveryConnection:
        edges = [
            WebhookDeliveryEdge(node=WebhookDelivery.from_entry(e), cursor=id_cursor(e.delivery.id))
            for e in page.items
        ]
        return cls(edges=edges, page_info=PageInfo.after(edges, page.has_next), count=page.count)


@strawberry.type
class WebhookEndpoint(Node):
    url: str
    event_types: list[WebhookEventType]
    enabled: bool
    disabled_at: datetime | None
    disabled_reason: str | None
    failing_since: datetime | None
    created_at: datetime
    previous_secret_expires_at: datetime | None = strawberry.field(
        description="after a rotation the old secret also signs until then"
    )
    row: strawberry.Private[models.WebhookEndpoint]

    @strawberry.field(description="null: every event of the organizer")
    async def event(self, info: Info) -> Event | None:
        if self.row.event_id is None:
            return None
        return Event.maybe(await info.context.loaders.event.load(self.row.event_id))

    @strawberry.field(description="newest first, each with every attempt")
    async def deliveries(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> WebhookDeliveryConnection:
        page = await webhooks.delivery_log(info.context, self.row, first, after)
        return WebhookDeliveryConnection.of(page)

    @classmethod
    def from_row(cls, row: models.WebhookEndpoint) -> WebhookEndpoint:
        return cls(
            id=strawberry.ID(encode_id("WebhookEndpoint", row.id)),
            url=row.url,
            event_types=[WebhookEventType(k) for k in row.event_types.split(",") if k],
            enabled=row.enabled,
            disabled_at=row.disabled_at,
            disabled_reason=row.disabled_reason,
            failing_since=row.failing_since,
            created_at=row.created_at,
            previous_secret_expires_at=row.previous_secret_until if row.previous_secret else None,
            row=row,
        )


@strawberry.type
class WebhookEndpointEdge:
    node: WebhookEndpoint
    cursor: str


@strawberry.type
class WebhookEndpointConnection:
    edges: list[WebhookEndpointEdge]
    page_info: PageInfo
    count: strawberry.Private[Count]
    total_count = total_count_field()

    @classmethod
    def of(cls, page: Page[models.WebhookEndpoint]) -> WebhookEndpointConnection:
        edges = [
            WebhookEndpointEdge(node=WebhookEndpoint.from_row(e), cursor=id_cursor(e.id))
            for e in page.items
        ]
        return cls(edges=edges, page_info=PageInfo.after(edges, page.has_next), count=page.count)


@strawberry.type
class WebhookEndpointPayload:
    endpoint: WebhookEndpoint | None = None
    secret: str | None = strawberry.field(
        default=None, description="the signing secret: shown here once, on create and rotate"
    )
    errors: list[UserError] = strawberry.field(default_factory=list)


@strawberry.type
class WebhookDeliveryPayload:
    delivery: WebhookDelivery | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)
