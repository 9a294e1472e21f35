"""Root fields for organizers' webhook endpoints (ORGANIZER, ADMIN)."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from eventhub import models
from eventhub.resolvers import webhooks
from eventhub.resolvers.outcomes import Result
from eventhub.schema.common import DeletePayload, errors_of
from eventhub.schema.permissions import requires_role
from eventhub.schema.roles import Role
from eventhub.schema.webhook_types import (
    WebhookDelivery,
    WebhookDeliveryPayload,
    WebhookEndpoint,
    WebhookEndpointConnection,
    WebhookEndpointPayload,
    WebhookEventType,
)

MANAGERS = (Role.ORGANIZER, Role.ADMIN)


@strawberry.input
class CreateWebhookEndpointInput:
    url: str
    event_types: list[WebhookEventType]
    event_id: strawberry.ID | None = strawberry.field(
        default=None, description="only this event's messages; null: all the organizer's events"
    )


@strawberry.input
class UpdateWebhookEndpointInput:
    url: str | None = None
    event_types: list[WebhookEventType] | None = None
    event_id: strawberry.ID | None = None
    all_events: bool | None = strawberry.field(
        default=None, description="true: hear every event again (clears eventId)"
    )
    enabled: bool | None = None


def _endpoint(result: Result[models.WebhookEndpoint]) -> WebhookEndpointPayload:
    row = result.value
    return WebhookEndpointPayload(
        endpoint=None if row is None else WebhookEndpoint.from_row(row),
        errors=errors_of(result.error),
    )


def _with_secret(result: Result[webhooks.Created]) -> WebhookEndpointPayload:
    if result.value is None:
        return WebhookEndpointPayload(errors=errors_of(result.error))
    row, secret = result.value
    return WebhookEndpointPayload(endpoint=WebhookEndpoint.from_row(row), secret=secret)


@strawberry.type
class WebhookQuery:
    @strawberry.field(extensions=requires_role(*MANAGERS))
    async def webhook_endpoints(
        self, info: Info, first: int | None = 20, after: str | None = None
    ) -> WebhookEndpointConnection:
        """Your endpoints (an admin sees every organizer's)."""
        return WebhookEndpointConnection.of(
            await webhooks.list_endpoints(info.context, first, after)
        )


@strawberry.type
class WebhookMutation:
    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def create_webhook_endpoint(
        self, info: Info, input: CreateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        kinds = [kind.value for kind in input.event_types]
        return _with_secret(await webhooks.create(info.context, input.url, kinds, input.event_id))

    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def update_webhook_endpoint(
        self, info: Info, id: strawberry.ID, input: UpdateWebhookEndpointInput
    ) -> WebhookEndpointPayload:
        kinds = None if input.event_types is None else [k.value for k in input.event_types]
        result = await webhooks.update_with(
            info.context, id, input.url, kinds, input.event_id, input.all_events, input.enabled
        )
        return _endpoint(result)

    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def rotate_webhook_secret(self, info: Info, id: strawberry.ID) -> WebhookEndpointPayload:
        """A new secret, shown once; the old one keeps signing beside it for 24 h."""
        return _with_secret(await webhooks.rotate(info.context, id))

    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def disable_webhook_endpoint(
        self, info: Info, id: strawberry.ID
    ) -> WebhookEndpointPayload:
        return _endpoint(await webhooks.disable(info.context, id))

    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> DeletePayload:
        result = await webhooks.delete(info.context, id)
        deleted = None if result.value is None else id
        return DeletePayload(deleted_id=deleted, errors=errors_of(result.error))

    @strawberry.mutation(extensions=requires_role(*MANAGERS))
    async def redeliver_webhook(
        self, info: Info, delivery_id: strawberry.ID
    ) -> WebhookDeliveryPayload:
        """Send a delivery again (the same webhook-id) within seconds."""
        result = await webhooks.redeliver(info.context, delivery_id)
        delivery = None if result.value is None else WebhookDelivery.from_entry(result.value)
        return WebhookDeliveryPayload(delivery=delivery, errors=errors_of(result.error))
