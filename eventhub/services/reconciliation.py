"""`eventhub payments reconcile`: find (and with --fix repair) orders that disagree with Stripe.

The tool an operator runs after an outage, when webhooks may have been lost.
Only safe repairs are automatic: a payment Stripe took is applied like its
webhook would have been; a hold Stripe cancelled is released. Anything else
(we say PAID, Stripe says otherwise) is reported for a human.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import Order
from eventhub.services import audit, orders
from eventhub.services.payments.stripe_provider import StripeProvider

SETTLED = ("PAID", "REFUNDED")


@dataclass(frozen=True)
class Mismatch:
    order_id: int
    ours: str
    stripe: str
    action: str


def _verdict(order: Order, intent_status: str) -> str | None:
    """What to do, or None when both sides agree."""
    if intent_status == "succeeded" and order.status not in SETTLED:
        return "apply payment"
    if intent_status == "canceled" and order.status == "PENDING":
        return "release hold"
    if intent_status != "succeeded" and order.status in SETTLED:
        return "report only"
    return None


async def reconcile(
    session: AsyncSession, provider: StripeProvider, since: datetime | None, fix: bool
) -> list[Mismatch]:
    query = select(Order).where(Order.payment_intent_id.is_not(None))  # type: ignore[union-attr]
    if since is not None:
        query = query.where(Order.created_at >= since)  # type: ignore[arg-type,operator]
    found: list[Mismatch] = []
    for order in list((await session.scalars(query.order_by(Order.id))).all()):
        intent = await provider.intent_status(str(order.payment_intent_id))
        action = _verdict(order, str(intent.get("status")))
        if action is None:
            continue
        outcome = await _repair(session, provider, order, action) if fix else action
        found.append(Mismatch(order.id or 0, order.status, str(intent.get("status")), outcome))
    return found


async def _repair(
    session: AsyncSession, provider: StripeProvider, order: Order, action: str
) -> str:
    if action == "apply payment":
        if order.status == "PENDING" and await orders.mark_paid(session, order, audit.SYSTEM):
            return "fixed: paid"
        return "fixed: " + await orders.accept_late_payment(session, order, provider)
    if action == "release hold" and await orders.cancel_hold(session, order, audit.SYSTEM):
        return "fixed: hold released"
    return action
