"""An endpoint's delivery log (each message, its attempts) and manual redelivery."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import OutboxDelivery, OutboxMessage, WebhookAttempt, WebhookEndpoint
from eventhub.services import audit, outbox_delivery
from eventhub.services.errors import NotFound, ValidationFailed
from eventhub.services.pagination import Page, fetch_page
from eventhub.services.webhooks import owned_endpoint


@dataclass(frozen=True)
class LoggedDelivery:
    delivery: OutboxDelivery
    message: OutboxMessage
    attempts: list[WebhookAttempt]


async def delivery_log(
    session: AsyncSession, endpoint: WebhookEndpoint, *, limit: int, before_id: int | None
) -> Page[LoggedDelivery]:
    """The endpoint's deliveries, newest first, each with its message and every attempt."""
    page = await fetch_page(
        session,
        OutboxDelivery,
        conditions=[
            col(OutboxDelivery.channel) == "webhook",
            col(OutboxDelivery.target) == str(endpoint.id),
        ],
        after=None if before_id is None else col(OutboxDelivery.id) < before_id,
        order_by=[col(OutboxDelivery.id).desc()],
        limit=limit,
    )
    entries = await logged(session, page.items)
    return Page(items=entries, has_next=page.has_next, count=page.count)


async def logged(
    session: AsyncSession, deliveries: Sequence[OutboxDelivery]
) -> list[LoggedDelivery]:
    ids = [d.id for d in deliveries if d.id is not None]
    message_ids = {d.message_id for d in deliveries}
    messages = {
        m.id: m
        for m in (
            await session.scalars(
                select(OutboxMessage).where(col(OutboxMessage.id).in_(message_ids))
            )
        ).all()
    }
    attempts: dict[int, list[WebhookAttempt]] = {i: [] for i in ids}
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(col(WebhookAttempt.delivery_id).in_(ids))
        .order_by(col(WebhookAttempt.id))
    )
    for attempt in rows.all():
        attempts[attempt.delivery_id].append(attempt)
    return [LoggedDelivery(d, messages[d.message_id], attempts[d.id or 0]) for d in deliveries]


async def owned_delivery(
    session: AsyncSession, delivery_id: int, actor: audit.Actor
) -> tuple[OutboxDelivery, WebhookEndpoint]:
    delivery = await session.get(OutboxDelivery, delivery_id)
    if delivery is None or delivery.channel != "webhook":
        raise NotFound("no such webhook delivery", field="deliveryId")
    try:
        endpoint = await owned_endpoint(session, int(delivery.target), actor)
    except NotFound:
        raise NotFound("no such webhook delivery", field="deliveryId") from None
    return delivery, endpoint


async def redeliver(session: AsyncSession, delivery_id: int, actor: audit.Actor) -> LoggedDelivery:
    """Send the same message (same webhook-id) to the endpoint again, within seconds.

    Within 3 days of the message it is retried as usual; later it gets one attempt.
    """
    delivery, endpoint = await owned_delivery(session, delivery_id, actor)
    if not endpoint.enabled:
        raise ValidationFailed("enable the endpoint before redelivering to it", field="deliveryId")
    await outbox_delivery.requeue(session, delivery_id)
    audit.record(
        session,
        actor,
        "webhook.redeliver",
        target_type="WebhookEndpoint",
        target_id=endpoint.id,
        details={"delivery_id": delivery_id},
    )
    await session.refresh(delivery)
    [entry] = await logged(session, [delivery])
    await session.commit()
    return entry
