"""Organizers' webhook endpoints: create, list, update, rotate, disable, delete, redeliver.

An endpoint belongs to one organizer and hears the kinds it subscribed to, for
all their events or for one. Its signing secret is shown once, when created or
rotated; after a rotation the previous secret keeps signing beside the new one
for 24 h, so receivers can switch without losing a message. Admins may manage
every endpoint; anyone else learns nothing about endpoints that are not theirs.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import Event, OutboxDelivery, WebhookEndpoint
from eventhub.models.base import utc_now
from eventhub.services import access, audit, outbox
from eventhub.services.errors import NotFound, ValidationFailed
from eventhub.services.pagination import Page, fetch_page
from eventhub.services.webhook_addresses import parse_url

ROTATION_OVERLAP = timedelta(hours=24)
MAX_ENDPOINTS = 20  # per organizer


def new_secret() -> str:
    """A Standard Webhooks secret: "whsec_" and 32 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


@dataclass(frozen=True)
class EndpointInput:
    url: str | None = None
    event_types: Sequence[str] | None = None
    event_id: int | None = None
    clear_event: bool = False
    enabled: bool | None = None


def _kinds(kinds: Sequence[str]) -> str:
    unknown = [k for k in kinds if k not in outbox.KINDS]
    if not kinds or unknown:
        raise ValidationFailed(
            f"choose event types among {', '.join(outbox.KINDS)}", field="input.eventTypes"
        )
    return ",".join(sorted(set(kinds)))


async def _check_event(session: AsyncSession, event_id: int, actor: audit.Actor) -> None:
    event = await session.get(Event, event_id)
    if event is None or not access.may_manage_event(actor, event):
        raise NotFound("no such event", field="input.eventId")


async def create_endpoint(
    session: AsyncSession, data: EndpointInput, actor: audit.Actor, allow_private: bool
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its secret (shown this once)."""
    assert actor.user_id is not None
    parse_url(data.url or "", allow_private, field="input.url")
    owned = await session.scalars(
        select(col(WebhookEndpoint.id)).where(col(WebhookEndpoint.organizer_id) == actor.user_id)
    )
    if len(owned.all()) >= MAX_ENDPOINTS:
        raise ValidationFailed(f"at most {MAX_ENDPOINTS} endpoints per organizer", field="input")
    if data.event_id is not None:
        await _check_event(session, data.event_id, actor)
    secret = new_secret()
    endpoint = WebhookEndpoint(
        organizer_id=actor.user_id,
        url=data.url or "",
        event_types=_kinds(data.event_types or ()),
        event_id=data.event_id,
        secret=secret,
    )
    session.add(endpoint)
    await session.flush()
    audit.record(
        session,
        actor,
        "webhook.create",
        target_type="WebhookEndpoint",
        target_id=endpoint.id,
        details={"url": endpoint.url},
    )
    await session.commit()
    return endpoint, secret


async def owned_endpoint(
    session: AsyncSession, endpoint_id: int, actor: audit.Actor
) -> WebhookEndpoint:
    endpoint = await session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or not access.may_manage_organizers(actor, endpoint.organizer_id):
        raise NotFound("no such webhook endpoint", field="id")
    return endpoint


async def list_endpoints(
    session: AsyncSession, actor: audit.Actor, *, limit: int, after_id: int | None
) -> Page[WebhookEndpoint]:
    """The actor's own endpoints (every endpoint for an admin), oldest first."""
    conditions = (
        [] if access.is_admin(actor) else [col(WebhookEndpoint.organizer_id) == actor.user_id]
    )
    return await fetch_page(
        session,
        WebhookEndpoint,
        conditions=conditions,
        after=None if after_id is None else col(WebhookEndpoint.id) > after_id,
        order_by=[col(WebhookEndpoint.id)],
        limit=limit,
    )


async def update_endpoint(
    session: AsyncSession,
    endpoint_id: int,
    data: EndpointInput,
    actor: audit.Actor,
    allow_private: bool,
) -> WebhookEndpoint:
    endpoint = await owned_endpoint(session, endpoint_id, actor)
    if data.url is not None:
        parse_url(data.url, allow_private, field="input.url")
        endpoint.url = data.url
    if data.event_types is not None:
        endpoint.event_types = _kinds(data.event_types)
    if data.event_id is not None:
        await _check_event(session, data.event_id, actor)
        endpoint.event_id = data.event_id
    elif data.clear_event:
        endpoint.event_id = None
    if data.enabled is not None:
        set_enabled(endpoint, data.enabled, "disabled by its organizer")
    audit.record(
        session, actor, "webhook.update", target_type="WebhookEndpoint", target_id=endpoint_id
    )
    await session.commit()
    return endpoint


def set_enabled(endpoint: WebhookEndpoint, enabled: bool, reason: str) -> None:
    """Enabling starts afresh (no failures counted); disabling keeps the reason."""
    if enabled and not endpoint.enabled:
        endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = True, None, None
        endpoint.failing_since = None
    elif not enabled and endpoint.enabled:
        endpoint.enabled, endpoint.disabled_at, endpoint.disabled_reason = False, utc_now(), reason


async def disable_endpoint(
    session: AsyncSession, endpoint_id: int, actor: audit.Actor
) -> WebhookEndpoint:
    endpoint = await owned_endpoint(session, endpoint_id, actor)
    set_enabled(endpoint, False, "disabled by its organizer")
    audit.record(
        session, actor, "webhook.disable", target_type="WebhookEndpoint", target_id=endpoint_id
    )
    await session.commit()
    return endpoint


async def rotate_secret(
    session: AsyncSession, endpoint_id: int, actor: audit.Actor
) -> tuple[WebhookEndpoint, str]:
    """A new secret; the one it replaces keeps signing for 24 h (both signatures are sent)."""
    endpoint = await owned_endpoint(session, endpoint_id, actor)
    secret = new_secret()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_until = utc_now() + ROTATION_OVERLAP
    endpoint.secret = secret
    audit.record(
        session,
        actor,
        "webhook.rotate_secret",
        target_type="WebhookEndpoint",
        target_id=endpoint_id,
    )
    await session.commit()
    return endpoint, secret


async def delete_endpoint(session: AsyncSession, endpoint_id: int, actor: audit.Actor) -> int:
    """The endpoint, its attempt log and its deliveries still waiting go; sent ones stay."""
    endpoint = await owned_endpoint(session, endpoint_id, actor)
    await session.execute(
        delete(OutboxDelivery).where(
            col(OutboxDelivery.channel) == "webhook",
            col(OutboxDelivery.target) == str(endpoint_id),
            col(OutboxDelivery.status) == "PENDING",
        )
    )
    await session.delete(endpoint)
    audit.record(
        session, actor, "webhook.delete", target_type="WebhookEndpoint", target_id=endpoint_id
    )
    await session.commit()
    return endpoint_id
