"""The cross-worker listener: one LISTEN connection per process (PostgreSQL), so signals
committed by any worker reach this process's watches.

If the connection drops, it reconnects with backoff and then re-signals every
watched event, so subscribers get the current state after the gap.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from typing import Any

import asyncpg

from eventhub.live.hub import HUB
from eventhub.live.signals import CHANNEL
from eventhub.models.database import libpq_url
from eventhub.models.outage import is_outage

logger = logging.getLogger("eventhub.live")
MAX_BACKOFF = 5.0


class ChangeListener:
    """Turns the channel's notifications into signals for this process's hub."""

    def __init__(
        self,
        database_url: str,
        *,
        connect_timeout: float = 5.0,
        report: Callable[[BaseException], None] | None = None,
    ) -> None:
        self._url = libpq_url(database_url)
        self._timeout = connect_timeout
        self._report = report or (lambda _error: None)
        self._lost = asyncio.Event()
        self._retry_now = asyncio.Event()
        self.connection: asyncpg.Connection | None = None
        self.reconnects = 0

    def retry_now(self) -> None:
        """The database is back: skip the rest of the backoff."""
        self._retry_now.set()

    def _on_notify(self, _conn: Any, _pid: int, _channel: str, payload: str) -> None:
        if payload.isdigit():
            HUB.signal(int(payload))

    def _on_terminate(self, _conn: Any) -> None:
        self._lost.set()

    async def _connect(self) -> None:
        self.connection = await asyncpg.connect(self._url, timeout=self._timeout)
        self.connection.add_termination_listener(self._on_terminate)
        await self.connection.add_listener(CHANNEL, self._on_notify)
        self._lost.clear()

    async def run(self) -> None:
        """Keep listening until cancelled; one log line when lost, one when restored."""
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
                self._report(ConnectionResetError("LISTEN connection lost"))
            except asyncio.CancelledError:
                await self.close()
                raise
            except Exception as error:
                if not is_outage(error) and not isinstance(error, asyncpg.PostgresError):
                    logger.exception("LISTEN connection failed")
                self._report(error)
                await self._backoff(delay)
                delay = min(delay * 2, MAX_BACKOFF)
            self.reconnects += 1

    async def _backoff(self, delay: float) -> None:
        """Wait `delay`, or less if the database is reported back meanwhile."""
        self._retry_now.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._retry_now.wait(), delay)

    async def close(self) -> None:
        if self.connection is not None and not self.connection.is_closed():
            await self.connection.close()
