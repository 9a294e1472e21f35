"""What a verified Stripe webhook event does to our orders.

Replays are harmless twice over: an event id already recorded is skipped,
and every state change is a conditional update that a second delivery
cannot repeat. An event for an order we do not know is logged and
acknowledged, so the provider stops retrying it. A `payment_intent.*` event
changes an order only when the intent is the order's own for exactly its
total (`intent_checks`); any other is audited as `payment.mismatch`
for `eventhub payments reconcile` and changes nothing.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import Order, ProcessedProviderEvent
from eventhub.models.statuses import OrderStatus
from eventhub.services import audit, orders, payment_received
from eventhub.services.payments import PaymentProvider
from eventhub.services.payments.stripe import intent_checks

logger = logging.getLogger("eventhub.payments")
MAX_ORDER_ID = 2**31 - 1  # ids are INTEGER columns; a larger one is no order of ours


async def _seen(session: AsyncSession, provider: str, event_id: str) -> bool:
    found = await session.scalar(
        select(col(ProcessedProviderEvent.id)).where(
            col(ProcessedProviderEvent.provider) == provider,
            col(ProcessedProviderEvent.provider_event_id) == event_id,
        )
    )
    await session.rollback()
    return found is not None


async def _remember(session: AsyncSession, provider: str, event_id: str, kind: str) -> None:
    session.add(
        ProcessedProviderEvent(provider=provider, provider_event_id=event_id, event_type=kind)
    )
    try:
        await session.commit()
    except IntegrityError:  # a concurrent delivery of the same event recorded it first
        await session.rollback()


async def _order_for(session: AsyncSession, intent: dict[str, Any]) -> Order | None:
    """The order this intent claims to pay: by intent id, else by the order id in its metadata.

    The metadata fallback covers an intent whose id we never stored (we crashed
    between creating it and saving it). It also finds an order that already has
    another intent; `intent_checks.intent_mismatch` then refuses to apply it.
    """
    intent_id = str(intent.get("id"))
    order = await orders.find_by_payment_intent(session, intent_id)
    if order is None:
        order_id = str((intent.get("metadata") or {}).get("order_id") or "")
        if order_id.isascii() and order_id.isdigit() and int(order_id) <= MAX_ORDER_ID:
            order = await session.get(Order, int(order_id))
    return order


async def handle_event(
    session: AsyncSession, provider: PaymentProvider, event: dict[str, Any]
) -> str:
    """Apply one verified event; returns a short outcome for the log and the response."""
    event_id, kind = str(event["id"]), str(event["type"])
    if await _seen(session, provider.name, event_id):
        return "duplicate"
    obj: dict[str, Any] = event["data"]["object"]
    if kind == "charge.refunded":
        outcome = await _charge_refunded(session, obj)
    elif kind in (
        "payment_intent.succeeded",
        "payment_intent.payment_failed",
        "payment_intent.canceled",
    ):
        outcome = await _intent_event(session, provider, kind, obj)
    else:
        outcome = "ignored"
    logger.info("stripe event %s (%s): %s", event_id, kind, outcome)
    await _remember(session, provider.name, event_id, kind)
    return outcome


async def _intent_event(
    session: AsyncSession, provider: PaymentProvider, kind: str, intent: dict[str, Any]
) -> str:
    order = await _order_for(session, intent)
    if order is None:
        logger.warning("stripe %s for unknown payment intent %s", kind, intent.get("id"))
        return "unknown order"
    assert order.id is not None
    order_id = order.id
    problem = intent_checks.intent_mismatch(order, intent)
    if problem is not None:
        logger.warning("stripe %s does not match order %s: %s", kind, order_id, problem)
        intent_checks.record_mismatch(session, order, intent, problem, kind)
        await session.commit()
        return "mismatch"
    if kind == "payment_intent.succeeded":
        return await payment_received.apply_succeeded_payment(session, order, provider)
    if kind == "payment_intent.payment_failed":
        # Not final at Stripe: the buyer may retry the same intent while the hold lasts.
        return (
            "hold kept for a retry"
            if order.status == OrderStatus.PENDING
            else f"already {order.status.lower()}"
        )
    if order.status == OrderStatus.PENDING and await orders.cancel_hold(
        session, order, audit.SYSTEM
    ):
        return "hold released"
    order = await orders.reload(session, order_id)
    return f"already {order.status.lower()}"


async def _charge_refunded(session: AsyncSession, charge: dict[str, Any]) -> str:
    intent_id = charge.get("payment_intent")
    order = await orders.find_by_payment_intent(session, str(intent_id)) if intent_id else None
    if order is None:
        logger.warning("stripe charge.refunded for unknown payment intent %s", intent_id)
        return "unknown order"
    if charge.get("amount_refunded", 0) < charge.get("amount", 0):
        logger.warning("partial refund on order %s is not mirrored (seats stay sold)", order.id)
        return "partial refund ignored"
    refunds = (charge.get("refunds") or {}).get("data") or [{}]
    refund_id = refunds[0].get("id")
    assert order.id is not None
    order_id = order.id
    if order.status == OrderStatus.PAID and await orders.record_external_refund(
        session, order, refund_id
    ):
        return "refunded"
    order = await orders.reload(session, order_id)
    return f"already {order.status.lower()}"
