"""Webhook endpoints for organizers: thin calls into services/webhooks and webhook_log."""

from __future__ import annotations

from collections.abc import Sequence

from eventhub.global_ids import decode_id
from eventhub.models import WebhookEndpoint
from eventhub.resolvers.context import RequestContext
from eventhub.resolvers.outcomes import Result, attempt
from eventhub.resolvers.paging import after_id, page_size
from eventhub.services import webhook_log, webhooks
from eventhub.services.errors import NotFound
from eventhub.services.pagination import Page

Created = tuple[WebhookEndpoint, str]


def _pk(global_id: str | None, type_name: str, field: str) -> int:
    pk = decode_id(global_id or "", type_name)
    if pk is None:
        raise NotFound(f"no such {type_name}", field=field)
    return pk


def endpoint_input(
    url: str | None,
    event_types: Sequence[str] | None,
    event_id: str | None,
    all_events: bool | None = None,
    enabled: bool | None = None,
) -> webhooks.EndpointInput:
    return webhooks.EndpointInput(
        url=url,
        event_types=event_types,
        event_id=None if event_id is None else _pk(event_id, "Event", "input.eventId"),
        clear_event=bool(all_events),
        enabled=enabled,
    )


async def list_endpoints(
    ctx: RequestContext, first: int | None, after: str | None
) -> Page[WebhookEndpoint]:
    actor = await ctx.actor()
    return await webhooks.list_endpoints(
        ctx.session, actor, limit=page_size(first), after_id=after_id(after)
    )


async def create(
    ctx: RequestContext, url: str, event_types: list[str], event_id: str | None
) -> Result[Created]:
    actor = await ctx.actor()
    allow = ctx.settings.webhooks_allow_private
    return await attempt(
        lambda: webhooks.create_endpoint(
            ctx.session, endpoint_input(url, event_types, event_id), actor, allow
        )
    )


async def update(
    ctx: RequestContext, endpoint_id: str, data: webhooks.EndpointInput | None = None
) -> Result[WebhookEndpoint]:
    actor = await ctx.actor()
    allow = ctx.settings.webhooks_allow_private

    async def work() -> WebhookEndpoint:
        pk = _pk(endpoint_id, "WebhookEndpoint", "id")
        return await webhooks.update_endpoint(
            ctx.session, pk, data or webhooks.EndpointInput(), actor, allow
        )

    return await attempt(work)


async def update_with(
    ctx: RequestContext,
    endpoint_id: str,
    url: str | None,
    event_types: list[str] | None,
    event_id: str | None,
    all_events: bool | None,
    enabled: bool | None,
) -> Result[WebhookEndpoint]:
    try:
        data = endpoint_input(url, event_types, event_id, all_events, enabled)
    except NotFound as error:
        return Result(error=error)
    return await update(ctx, endpoint_id, data)


async def rotate(ctx: RequestContext, endpoint_id: str) -> Result[Created]:
    actor = await ctx.actor()
    return await attempt(
        lambda: webhooks.rotate_secret(
            ctx.session, _pk(endpoint_id, "WebhookEndpoint", "id"), actor
        )
    )


async def disable(ctx: RequestContext, endpoint_id: str) -> Result[WebhookEndpoint]:
    actor = await ctx.actor()
    return await attempt(
        lambda: webhooks.disable_endpoint(
            ctx.session, _pk(endpoint_id, "WebhookEndpoint", "id"), actor
        )
    )


async def delete(ctx: RequestContext, endpoint_id: str) -> Result[int]:
    actor = await ctx.actor()
    return await attempt(
        lambda: webhooks.delete_endpoint(
            ctx.session, _pk(endpoint_id, "WebhookEndpoint", "id"), actor
        )
    )


async def redeliver(ctx: RequestContext, delivery_id: str) -> Result[webhook_log.LoggedDelivery]:
    actor = await ctx.actor()
    return await attempt(
        lambda: webhook_log.redeliver(
            ctx.session, _pk(delivery_id, "WebhookDelivery", "deliveryId"), actor
        )
    )


async def delivery_log(
    ctx: RequestContext, endpoint: WebhookEndpoint, first: int | None, after: str | None
) -> Page[webhook_log.LoggedDelivery]:
    return await webhook_log.delivery_log(
        ctx.session, endpoint, limit=page_size(first), before_id=after_id(after)
    )


async def visible_endpoint(ctx: RequestContext, pk: int) -> WebhookEndpoint | None:
    """node(id): the endpoint for its organizer and admins; nobody else learns it exists."""
    try:
        return await webhooks.owned_endpoint(ctx.session, pk, await ctx.actor())
    except NotFound:
        return None


async def visible_delivery(ctx: RequestContext, pk: int) -> webhook_log.LoggedDelivery | None:
    try:
        delivery, _ = await webhook_log.owned_delivery(ctx.session, pk, await ctx.actor())
    except NotFound:
        return None
    [entry] = await webhook_log.logged(ctx.session, [delivery])
    return entry
