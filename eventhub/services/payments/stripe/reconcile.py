"""`eventhub payments reconcile`: find (and with --fix repair) orders that disagree with Stripe.

The tool an operator runs after an outage, when webhooks may have been lost.
Only safe repairs are automatic: a payment Stripe took is applied like its
webhook would have been; a hold Stripe cancelled is released. Anything else
(we say PAID, Stripe says otherwise) is reported for a human, and so is every
payment that does not match its order: an intent whose amount or currency is
no longer the order's total, and each `payment.mismatch` the webhook audited
(another intent claiming the order, say). A mismatched payment is never applied.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import AuditEntry, Order
from eventhub.models.statuses import PAID_ONCE, OrderStatus
from eventhub.services import audit, orders, payment_received
from eventhub.services.payments.stripe import intent_checks
from eventhub.services.payments.stripe.client import StripeProvider


@dataclass(frozen=True)
class Mismatch:
    order_id: int
    ours: str
    stripe: str
    action: str


def _charge_refunded(intent: dict[str, Any]) -> bool:
    charge = intent.get("latest_charge")
    return isinstance(charge, dict) and bool(charge.get("refunded"))


def _verdict(order: Order, intent: dict[str, Any]) -> str | None:
    """What to do, or None when both sides agree."""
    problem = intent_checks.intent_mismatch(order, intent)
    if problem is not None:
        return f"report only: {problem}"
    intent_status = str(intent.get("status"))
    if intent_status == "succeeded" and _charge_refunded(intent):
        # Refunded in full at Stripe (an intent stays `succeeded` after a refund).
        return "apply refund" if order.status == OrderStatus.PAID else None
    if intent_status == "succeeded" and order.status not in PAID_ONCE:
        return "apply payment"
    if intent_status == "canceled" and order.status == OrderStatus.PENDING:
        return "release hold"
    if intent_status != "succeeded" and order.status in PAID_ONCE:
        return "report only"
    return None


async def reconcile(
    session: AsyncSession, provider: StripeProvider, since: datetime | None, fix: bool
) -> list[Mismatch]:
    query = select(col(Order.id)).where(col(Order.payment_intent_id).is_not(None))
    if since is not None:
        query = query.where(col(Order.created_at) >= since)
    order_ids = [i for i in (await session.scalars(query.order_by(col(Order.id)))).all() if i]
    await session.commit()
    found: list[Mismatch] = []
    listed: set[tuple[int, str]] = set()  # (order, intent) pairs already reported
    for order_id in order_ids:
        # One order at a time, read fresh: a repair's rollback expires loaded objects.
        order = await orders.reload(session, order_id)
        ours = order.status
        intent = await provider.intent_status(str(order.payment_intent_id), expand_charge=True)
        action = _verdict(order, intent)
        if action is None:
            continue
        outcome = await _repair(session, provider, order, action, intent) if fix else action
        found.append(Mismatch(order_id, ours, str(intent.get("status")), outcome))
        listed.add((order_id, str(order.payment_intent_id)))
    return found + await _audited_mismatches(session, since, listed)


async def _audited_mismatches(
    session: AsyncSession, since: datetime | None, listed: set[tuple[int, str]]
) -> list[Mismatch]:
    """Payments the webhook refused as not matching their order (one line per order and intent).

    These may come from intents the order never had, which the loop over orders
    cannot see; they are reported, never repaired."""
    query = select(AuditEntry).where(col(AuditEntry.action) == intent_checks.MISMATCH_ACTION)
    if since is not None:
        query = query.where(col(AuditEntry.at) >= since)
    entries = (await session.scalars(query.order_by(col(AuditEntry.id)))).all()
    await session.commit()
    found: list[Mismatch] = []
    for entry in entries:
        details = json.loads(entry.details or "{}")
        order_id = int(entry.target_id or 0)
        key = (order_id, str(details.get("payment_intent")))
        if key in listed:
            continue
        listed.add(key)
        order = await session.get(Order, order_id)
        ours = order.status if order is not None else "GONE"
        event = f"{details.get('event_type')} of {details.get('payment_intent')}"
        reason = f"report only: {details.get('reason')} [{event}]"
        found.append(Mismatch(order_id, ours, str(details.get("intent_status")), reason))
    await session.commit()
    return found


async def _repair(
    session: AsyncSession,
    provider: StripeProvider,
    order: Order,
    action: str,
    intent: dict[str, Any],
) -> str:
    if action == "apply refund":
        charge = intent["latest_charge"]
        refunds = (charge.get("refunds") or {}).get("data") or []
        refund_id = str(refunds[0]["id"]) if refunds else None
        if await orders.record_external_refund(session, order, refund_id):
            return "fixed: refunded"
        return action
    if action == "apply payment":  # as its webhook would have
        outcome = await payment_received.apply_succeeded_payment(session, order, provider)
        return outcome if outcome.startswith("already ") else f"fixed: {outcome}"
    if action == "release hold" and await orders.cancel_hold(session, order, audit.SYSTEM):
        return "fixed: hold released"
    return action
