"""One LISTEN connection per process, so changes committed by any worker reach our subscribers.

If the connection drops, it reconnects with backoff and then re-signals every
watched event, so subscribers get the current state after the gap.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import asyncpg

from eventhub.services.live import CHANNEL, HUB

logger = logging.getLogger("eventhub.live")


def libpq_url(database_url: str) -> str:
    return "postgresql://" + database_url.split("://", 1)[1]


class ChangeListener:
    def __init__(self, database_url: str) -> None:
        self._url = libpq_url(database_url)
        self._lost = asyncio.Event()
        self.connection: asyncpg.Connection | None = None
        self.reconnects = 0

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.isdigit():
            HUB.signal(int(payload))

    def _on_terminate(self, _conn: Any) -> None:
        self._lost.set()

    async def _connect(self) -> None:
        self.connection = await asyncpg.connect(self._url, timeout=5)
        self.connection.add_termination_listener(self._on_terminate)
        await self.connection.add_listener(CHANNEL, self._on_notify)
        self._lost.clear()

    async def run(self) -> None:
        """Keep listening until cancelled."""
        delay = 0.2
        while True:
            try:
                await self._connect()
                if self.reconnects:
                    logger.warning("LISTEN connection restored; re-sending current state")
                    HUB.signal_all()
                delay = 0.2
                await self._lost.wait()
                logger.warning("LISTEN connection lost; reconnecting")
            except asyncio.CancelledError:
                await self.close()
                raise
            except (OSError, asyncpg.PostgresError) as error:
                logger.warning("LISTEN connection failed (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            self.reconnects += 1

    async def close(self) -> None:
        if self.connection is not None and not self.connection.is_closed():
            await self.connection.close()
