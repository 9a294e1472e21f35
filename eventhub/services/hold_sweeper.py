"""Releases expired holds every few seconds, and retries work owed to the payment provider.

Every worker process runs one; they never double-release because each expiry
is a conditional status change that only one of them can win, and never call
the provider twice for one task because each retry is a claim only one wins.
"""

from __future__ import annotations

import asyncio
import logging

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventhub.models.outage import is_outage
from eventhub.services import intent_cancels, orders, refunds
from eventhub.services.clock import Clock
from eventhub.services.payments import PaymentProvider

logger = logging.getLogger("eventhub.sweeper")


async def sweep_once(session_factory: async_sessionmaker[AsyncSession], clock: Clock) -> int:
    """Expire what is due by `clock`; returns how many holds this call released."""
    now = clock.now()
    released = 0
    async with session_factory() as session:
        for order_id in await orders.expired_order_ids(session, now):
            released += await orders.expire_order(session, order_id, now)
    return released


async def settle_payments(
    session_factory: async_sessionmaker[AsyncSession], provider: PaymentProvider
) -> int:
    """Cancel the intents of released holds and finish unconfirmed refunds that are due.

    Runs after the holds' release, never before it: the provider cannot hold seats back.
    Returns how many the provider confirmed.
    """
    async with session_factory() as session:
        done = await intent_cancels.retry_due(session, provider)
        return done + await refunds.retry_due(session, provider)


async def run_sweeper(
    session_factory: async_sessionmaker[AsyncSession],
    interval: float,
    provider: PaymentProvider,
    clock: Clock,
) -> None:
    while True:
        try:
            released = await sweep_once(session_factory, clock)
            if released:
                logger.info("released %d expired holds", released)
            settled = await settle_payments(session_factory, provider)
            if settled:
                logger.info("settled %d payment cancels or refunds", settled)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # keep sweeping: a failed round is retried on the next tick
            if not is_outage(error):  # an outage is logged once, by the database gate
                logger.exception("hold sweep failed")
        await asyncio.sleep(interval)
