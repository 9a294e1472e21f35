"""Webhooks as an outbox channel: which endpoints hear a message, and one attempt to one.

Every attempt is logged (status code, latency, an excerpt of the answer). An
endpoint that has failed every attempt for 3 days is disabled, and its
organizer is told through the outbox (`webhook.endpoint_disabled`, which the
e-mail channel delivers).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlmodel import col

from eventhub.models import OutboxDelivery, OutboxMessage, WebhookAttempt, WebhookEndpoint
from eventhub.models.base import table_of, utc_now
from eventhub.services import outbox
from eventhub.services.outbox_delivery import Outcome
from eventhub.services.webhook_sender import AttemptResult, WebhookSender, signed_headers

ENDPOINTS = table_of(WebhookEndpoint)
DISABLE_AFTER = timedelta(days=3)
DISABLED_REASON = "every delivery failed for 3 days"


def signing_secrets(endpoint: WebhookEndpoint, now: datetime) -> list[str]:
    """The current secret, and the previous one while its 24 h of overlap last."""
    secrets = [endpoint.secret]
    until = endpoint.previous_secret_until
    if endpoint.previous_secret and until is not None and now < until:
        secrets.append(endpoint.previous_secret)
    return secrets


def subscribed(endpoint: WebhookEndpoint, kind: str) -> bool:
    return kind in endpoint.event_types.split(",")


class WebhookChannel:
    name = "webhook"

    def __init__(self, sender: WebhookSender) -> None:
        self.sender = sender

    def carries(self, kind: str) -> bool:
        return kind in outbox.KINDS

    async def targets(self, session: AsyncSession, message: OutboxMessage) -> list[str]:
        if message.organizer_id is None:
            return []
        rows = await session.scalars(
            select(WebhookEndpoint).where(
                col(WebhookEndpoint.organizer_id) == message.organizer_id,
                col(WebhookEndpoint.enabled).is_(True),
                col(WebhookEndpoint.event_id).is_(None)
                | (col(WebhookEndpoint.event_id) == message.event_id),
            )
        )
        return [str(e.id) for e in rows.all() if subscribed(e, message.kind)]

    async def deliver(
        self,
        sessions: async_sessionmaker[AsyncSession],
        message: OutboxMessage,
        delivery: OutboxDelivery,
    ) -> Outcome:
        async with sessions() as session:
            endpoint = await session.get(WebhookEndpoint, int(delivery.target))
            await session.commit()
        if endpoint is None:
            return Outcome(False, "the endpoint was deleted", final=True)
        if not endpoint.enabled:
            return Outcome(False, "the endpoint is disabled", final=True)
        now = utc_now()
        body = message.payload.encode()
        headers = signed_headers(signing_secrets(endpoint, now), message.uid, now, body)
        result = await self.sender.post(endpoint.url, headers, body)
        async with sessions() as session:
            await record_attempt(session, endpoint, delivery, result)
        return Outcome(result.ok, result.error)


async def record_attempt(
    session: AsyncSession,
    endpoint: WebhookEndpoint,
    delivery: OutboxDelivery,
    result: AttemptResult,
    now: datetime | None = None,
) -> None:
    """Log the attempt; track how long the endpoint has been failing, and disable it at 3 days."""
    now = now or utc_now()
    assert endpoint.id is not None
    session.add(
        WebhookAttempt(
            delivery_id=delivery.id or 0,
            endpoint_id=endpoint.id,
            at=now,
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            response_excerpt=result.excerpt,
            error=result.error,
        )
    )
    this = ENDPOINTS.c.id == endpoint.id
    if result.ok:
        # Only a recovering endpoint's row is written: concurrent successes take no row lock.
        recovered = ENDPOINTS.c.failing_since.is_not(None)
        await session.execute(update(ENDPOINTS).where(this, recovered).values(failing_since=None))
    else:
        await session.execute(
            update(ENDPOINTS)
            .where(this, ENDPOINTS.c.failing_since.is_(None))
            .values(failing_since=now)
        )
        disabled = await session.execute(
            update(ENDPOINTS)
            .where(
                this,
                ENDPOINTS.c.enabled.is_(True),
                ENDPOINTS.c.failing_since <= now - DISABLE_AFTER,
            )
            .values(enabled=False, disabled_at=now, disabled_reason=DISABLED_REASON)
        )
        if disabled.rowcount == 1:  # type: ignore[attr-defined]
            data = {
                "endpoint": {
                    "id": outbox.global_id("WebhookEndpoint", endpoint.id),
                    "url": endpoint.url,
                    "reason": DISABLED_REASON,
                }
            }
            outbox.notify_organizer(session, endpoint.organizer_id, outbox.ENDPOINT_DISABLED, data)
    await session.commit()
