"""PaymentIntents follow their orders: a released hold's intent is cancelled at the provider.

The release (expiry, the buyer's cancel, the event's cancellation) queues the
cancel in its own transaction (`payment_tasks`), so the provider never holds
seats back: the releasing request tries it at once, and the sweeper retries it
until the provider confirms. An intent that is already canceled counts as done;
one that succeeded cannot be cancelled, and its payment follows the late-payment
rule (re-take the seats, or refund).
"""

from __future__ import annotations

import contextlib
import logging

from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import PaymentTask
from eventhub.models.statuses import RELEASED
from eventhub.services import orders, payment_received, payment_tasks
from eventhub.services.errors import PaymentFailed
from eventhub.services.payments import PaymentDeclined, PaymentProvider, ProviderUnavailable
from eventhub.services.payments.stripe import intent_checks

logger = logging.getLogger("eventhub.payments")
CANCEL_INTENT = payment_tasks.CANCEL_INTENT


async def cancel_intent(session: AsyncSession, order_id: int, provider: PaymentProvider) -> str:
    """Try the queued cancel now; on trouble it stays queued for the sweeper.

    Returns what happened: canceled, paid, pending, unavailable, refused, moot or claimed.
    """
    task = await payment_tasks.take_over(session, order_id, CANCEL_INTENT, due_only=False)
    if task is None:
        return "claimed"  # none queued, or another worker is on it
    return await _carry_out(session, task, provider)


async def retry_due(session: AsyncSession, provider: PaymentProvider, limit: int = 100) -> int:
    """The sweeper's part: cancels whose time has come; returns how many the provider confirmed."""
    confirmed = 0
    for order_id in await payment_tasks.due(session, CANCEL_INTENT, limit):
        task = await payment_tasks.take_over(session, order_id, CANCEL_INTENT, due_only=True)
        if task is not None and await _carry_out(session, task, provider) == "canceled":
            confirmed += 1
    return confirmed


async def _finish(session: AsyncSession, task: PaymentTask, outcome: str) -> str:
    await payment_tasks.drop(session, task.order_id, CANCEL_INTENT)
    await session.commit()
    return outcome


async def _carry_out(session: AsyncSession, task: PaymentTask, provider: PaymentProvider) -> str:
    order = await orders.reload(session, task.order_id)
    await session.commit()  # no transaction open across the provider call
    if order.status not in RELEASED:  # paid after all, or refunded: nothing left to cancel
        return await _finish(session, task, "moot")
    try:
        intent = await provider.cancel_payment(order)
    except ProviderUnavailable:
        await payment_tasks.release(session, task)
        return "unavailable"
    except PaymentDeclined as error:  # e.g. the intent does not exist: nothing to cancel
        logger.warning("cancelling the payment of order %s was refused: %s", order.id, error)
        return await _finish(session, task, "refused")
    status = intent.get("status")
    if status == "canceled":
        return await _finish(session, task, "canceled")
    if status == "succeeded":  # paid before we could cancel: the late-payment rule applies
        problem = intent_checks.intent_mismatch(order, intent)
        if problem is not None:  # not what we asked for: a human decides (reconcile lists it)
            intent_checks.record_mismatch(session, order, intent, problem, "cancel")
            return await _finish(session, task, "mismatch")
        await _finish(session, task, "paid")
        order = await orders.reload(session, task.order_id)
        # A refund Stripe did not confirm stays claimed: `refunds.retry_due` finishes it.
        with contextlib.suppress(PaymentFailed):
            await payment_received.apply_succeeded_payment(session, order, provider)
        return "paid"
    await payment_tasks.release(session, task)  # processing: ask again later
    return "pending"
