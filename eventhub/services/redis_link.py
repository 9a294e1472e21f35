"""One Redis connection pool per process and whether Redis answers, for everything shared.

Limits, the login throttle and (with EVENTHUB_REDIS_URL) persisted queries keep
their state in Redis so every worker and host sees the same numbers. Redis is
not what makes the API ready: when it fails, callers fall back to per-process
state. `RedisLink` keeps that promise cheap:

- short socket and connect timeouts, so a Redis that accepts but never answers
  costs the request that finds out at most `timeout` seconds;
- once a failure is seen the link is *down*: callers skip Redis at once (no
  network wait at all) while a background task pings it every `PROBE_INTERVAL`;
- the start and the end of an outage are logged once each, with the count of
  operations that fell back meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import redis.asyncio as redis

logger = logging.getLogger("eventhub.redis")
PROBE_INTERVAL = 0.5  # seconds between pings while Redis is down


class RedisLink:
    """The pool, and up/down with one log line per change of state."""

    def __init__(self, url: str, *, timeout: float) -> None:
        self.url = url
        self.pool: Any = redis.ConnectionPool.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self.client: Any = redis.Redis(connection_pool=self.pool)
        self.down = False
        self.fallbacks = 0  # operations answered per process during the current outage
        self.outages = 0
        self.failed_calls = 0  # calls that waited on Redis and failed (the rest never tried)
        self._probe: asyncio.Task[None] | None = None

    @property
    def status(self) -> str:
        return "degraded" if self.down else "ok"

    def failed(self, error: BaseException) -> None:
        """Record a failed operation; the first of an outage logs and starts the probe."""
        self.fallbacks += 1
        self.failed_calls += 1
        if self.down:
            return
        self.down = True
        self.outages += 1
        logger.warning(
            "Redis unreachable (%s: %s); limits and shared state kept per process until it returns",
            type(error).__name__,
            error,
        )
        with contextlib.suppress(RuntimeError):  # no running loop: the next caller probes
            self._probe = asyncio.get_running_loop().create_task(self._probe_until_up())

    def skipped(self) -> None:
        """A caller fell back without trying, because the link is down."""
        self.fallbacks += 1

    async def _probe_until_up(self) -> None:
        while self.down:
            await asyncio.sleep(PROBE_INTERVAL)
            try:
                await self.client.ping()
            except (redis.RedisError, OSError, TimeoutError):
                continue
            logger.warning(
                "Redis back; shared again (%d operations answered per process meanwhile)",
                self.fallbacks,
            )
            self.down = False
            self.fallbacks = 0

    async def close(self) -> None:
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
        await self.client.aclose()
        await self.pool.disconnect()
