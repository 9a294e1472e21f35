"""The deliverer every `eventhub serve` process runs in its lifespan.

Each round routes new messages, then claims as many due deliveries as it has
free slots and sends them concurrently: a slow or failing endpoint holds one
slot for at most its time limit, never the others, and never a request.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventhub.models.outage import is_outage
from eventhub.services import outbox_delivery
from eventhub.services.outbox_delivery import Channel, Claimed, Outcome

logger = logging.getLogger("eventhub.outbox")


@dataclass(frozen=True)
class WorkerPolicy:
    poll_seconds: float = 0.5
    concurrency: int = 16
    send_timeout: float = 10.0

    @property
    def lease(self) -> timedelta:
        """Longer than any one attempt may take, so only a dead worker's claim runs out."""
        return timedelta(seconds=self.send_timeout * 2 + 5)


class Deliverer:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        channels: Sequence[Channel],
        policy: WorkerPolicy,
        on_close: Sequence[Callable[[], Awaitable[None]]] = (),
    ) -> None:
        self.sessions = sessions
        self.on_close = list(on_close)
        self.channels = {channel.name: channel for channel in channels}
        self.policy = policy
        self.running: set[asyncio.Task[None]] = set()
        self.claims: dict[asyncio.Task[None], Claimed] = {}

    async def round(self) -> int:
        """Route, then start sending what is due; returns how many sends it started."""
        async with self.sessions() as session:
            await outbox_delivery.route_messages(session, list(self.channels.values()))
            free = self.policy.concurrency - len(self.running)
            if free <= 0:
                return 0
            claimed = await outbox_delivery.claim_due(session, free, self.policy.lease)
        for item in claimed:
            task = asyncio.create_task(self._send(item))
            self.running.add(task)
            self.claims[task] = item
            task.add_done_callback(self._finished)
        return len(claimed)

    def _finished(self, task: asyncio.Task[None]) -> None:
        self.running.discard(task)
        self.claims.pop(task, None)

    async def drain(self) -> None:
        """Wait for the sends under way (tests, shutdown)."""
        while self.running:
            await asyncio.gather(*list(self.running), return_exceptions=True)

    async def _send(self, item: Claimed) -> None:
        channel = self.channels.get(item.delivery.channel)
        try:
            if channel is None:
                outcome = Outcome(False, f"no channel {item.delivery.channel!r} here")
            else:
                outcome = await channel.deliver(self.sessions, item.message, item.delivery)
        except Exception as error:  # a bug in a channel must not lose the delivery
            logger.exception("delivery %s failed", item.delivery.id)
            outcome = Outcome(False, f"internal error: {type(error).__name__}")
        async with self.sessions() as session:
            await outbox_delivery.record_outcome(session, item, outcome)

    async def _stop_sends(self) -> None:
        """Cancel the sends under way and give their claims back, so another worker sends
        them now rather than when the lease runs out (a deploy's SIGTERM)."""
        stopped = dict(self.claims)
        for task in stopped:
            task.cancel()
        await asyncio.gather(*stopped, return_exceptions=True)
        unfinished = [claim for task, claim in stopped.items() if task.cancelled()]
        if unfinished:
            try:
                async with self.sessions() as session:
                    await outbox_delivery.release(session, unfinished)
            except Exception:  # the database is gone too: the leases run out by themselves
                logger.warning("could not give back %d outbox claims", len(unfinished))

    async def run(self) -> None:
        try:
            while True:
                try:
                    started = await self.round()
                except asyncio.CancelledError:
                    raise
                except Exception as error:  # keep delivering: the next round retries
                    started = 0
                    if not is_outage(error):
                        logger.exception("outbox round failed")
                if not started:
                    await asyncio.sleep(self.policy.poll_seconds)
                else:
                    await asyncio.sleep(0)
        finally:
            await self._stop_sends()
            for close in self.on_close:
                await close()
