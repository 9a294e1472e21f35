"""Whether a PaymentIntent can settle an order: the webhook, reconcile and intent cancels ask.

An intent pays an order only when it is the order's own and it carries exactly
the order's total in the order's currency. Anyone holding the account's secret
key (or a Dashboard login) can change an intent's amount or currency before the
buyer pays, and every endpoint of an account receives every event of the
account, so "an intent succeeded with metadata order_id=N" proves nothing alone.
Amounts are compared in Stripe's minor units for the currency (`stripe_amount`:
zero-decimal JPY or KRW as they are, three-decimal BHD or KWD in thousandths,
ISK in hundredths), which is what the intent carries.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import Order
from eventhub.services import audit
from eventhub.services.payments.stripe.client import stripe_amount

MISMATCH_ACTION = "payment.mismatch"


def intent_mismatch(order: Order, intent: Mapping[str, Any]) -> str | None:
    """Why `intent` cannot settle `order`, or None when it is the order's own for its total.

    A succeeded intent is judged by `amount_received` (what was taken); one not yet
    paid by `amount` (what the buyer is asked for)."""
    intent_id = intent.get("id")
    if order.payment_intent_id is not None and intent_id != order.payment_intent_id:
        return f"payment intent {intent_id} is not the order's ({order.payment_intent_id})"
    currency = str(intent.get("currency") or "").upper()
    if currency != order.currency.upper():
        return f"currency {currency or 'missing'} instead of {order.currency.upper()}"
    field = "amount_received" if intent.get("status") == "succeeded" else "amount"
    expected = stripe_amount(order.total_minor, order.currency)
    if intent.get(field) != expected:
        return f"{field} {intent.get(field)} instead of {expected} {currency}"
    return None


def record_mismatch(
    session: AsyncSession, order: Order, intent: Mapping[str, Any], reason: str, event_type: str
) -> None:
    """Add the `payment.mismatch` audit entry that `eventhub payments reconcile` lists."""
    audit.record(
        session,
        audit.SYSTEM,
        MISMATCH_ACTION,
        target_type="Order",
        target_id=order.id,
        details={
            "reason": reason,
            "event_type": event_type,
            "payment_intent": intent.get("id"),
            "intent_status": intent.get("status"),
            "amount": intent.get("amount"),
            "amount_received": intent.get("amount_received"),
            "currency": intent.get("currency"),
            "expected_amount": stripe_amount(order.total_minor, order.currency),
            "expected_currency": order.currency.lower(),
        },
    )
