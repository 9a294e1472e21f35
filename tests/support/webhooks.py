"""Arranging webhook endpoints and reading the outbox in tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.global_ids import decode_id
from eventhub.models import OutboxDelivery, OutboxMessage, WebhookAttempt
from eventhub.services import audit, webhooks
from eventhub.settings import Settings
from tests.conftest import make_settings
from tests.support.graphql import Account

T = TypeVar("T")
ALL_KINDS = [
    "order.paid",
    "order.refunded",
    "order.cancelled",
    "ticket.checked_in",
    "event.published",
    "event.updated",
    "event.cancelled",
    "event.sold_out",
]


def outbox_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "webhooks_allow_private": True,
        "outbox_poll_seconds": 0.05,
        "webhook_timeout": 1.0,
    }
    return make_settings(database_url, tmp_path, **(values | overrides))


def actor_of(account: Account) -> audit.Actor:
    user_id = decode_id(account.id, "User")
    return audit.Actor(user_id=user_id, roles=frozenset(account.roles))


async def add_endpoint(
    app: Any, organizer: Account, url: str, kinds: list[str] | None = None, **extra: Any
) -> tuple[int, str]:
    """An endpoint of the organizer's (id, secret)."""
    data = webhooks.EndpointInput(url=url, event_types=kinds or ALL_KINDS, **extra)
    async with app.state.eventhub.session_factory() as session:
        endpoint, secret = await webhooks.create_endpoint(
            session, data, actor_of(organizer), allow_private=True
        )
    assert endpoint.id is not None
    return endpoint.id, secret


async def _detached(session: AsyncSession, rows: list[T]) -> list[T]:
    """The rows as read, kept readable after the read transaction ends."""
    for row in rows:
        session.expunge(row)
    await session.rollback()
    return rows


async def messages(session: AsyncSession, kind: str | None = None) -> list[OutboxMessage]:
    query = select(OutboxMessage).order_by(OutboxMessage.id)  # type: ignore[arg-type]
    if kind:
        query = query.where(OutboxMessage.kind == kind)  # type: ignore[arg-type]
    return await _detached(session, list((await session.scalars(query)).all()))


async def deliveries(session: AsyncSession, endpoint_id: int) -> list[OutboxDelivery]:
    rows = await session.scalars(
        select(OutboxDelivery)
        .where(OutboxDelivery.target == str(endpoint_id))  # type: ignore[arg-type]
        .order_by(OutboxDelivery.id)  # type: ignore[arg-type]
        .execution_options(populate_existing=True)
    )
    return await _detached(session, list(rows.all()))


async def attempts(session: AsyncSession, endpoint_id: int) -> list[WebhookAttempt]:
    rows = await session.scalars(
        select(WebhookAttempt)
        .where(WebhookAttempt.endpoint_id == endpoint_id)  # type: ignore[arg-type]
        .order_by(WebhookAttempt.id)  # type: ignore[arg-type]
    )
    return await _detached(session, list(rows.all()))


async def make_due(session: AsyncSession) -> None:
    """Every waiting delivery due now: the test does not wait out the backoff."""
    await session.execute(
        update(OutboxDelivery)
        .where(OutboxDelivery.status == "PENDING")  # type: ignore[arg-type]
        .values(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC))
    )
    await session.commit()


def payload_of(message: OutboxMessage) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(message.payload)
    return data


async def delivery_when(
    session: AsyncSession, endpoint_id: int, ready: Callable[[list[OutboxDelivery]], bool]
) -> list[OutboxDelivery]:
    """The endpoint's deliveries once `ready` says so (within 10 s), else fail."""
    found: list[OutboxDelivery] = []
    for _ in range(200):
        found = await deliveries(session, endpoint_id)
        if ready(found):
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"deliveries never got there: {[(d.status, d.attempts) for d in found]}")


async def attempts_when(
    session: AsyncSession, endpoint_id: int, count: int
) -> list[WebhookAttempt]:
    found: list[WebhookAttempt] = []
    for _ in range(200):
        found = await attempts(session, endpoint_id)
        if len(found) >= count:
            return found
        await asyncio.sleep(0.05)
    raise AssertionError(f"{len(found)} attempts, {count} awaited")
