"""Whether PostgreSQL answers, as this process sees it: the outage gate and its probe.

While PostgreSQL is unreachable a request must be answered at once with a
clear "retry later", not after a connect timeout, and not with a stack trace.
The first connection failure any session meets is `report`ed; a probe then
opens a fresh connection of its own. If that fails too the database is
*down*: every session call raises `DatabaseUnavailable` at once (no
connection attempt), and the probe retries every PROBE_INTERVAL until it
succeeds. Then the pools are emptied (their connections died with the
server) and everyone waiting for the recovery is told (the change listener
reconnects at once instead of after its backoff).

A single failure that the probe cannot reproduce (one dropped connection,
a server restarted in a blink) never declares an outage. SQLite has no
outage: its gate is never shut.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import socket
import time
from collections.abc import Awaitable, Callable

import asyncpg
from sqlalchemy import exc

from eventhub.models.outage_board import OutageBoard

logger = logging.getLogger("eventhub.database")
PROBE_INTERVAL = 0.5
RETRY_AFTER_SECONDS = 2
_NETWORK_ERRNOS = {
    errno.ECONNREFUSED,
    errno.ECONNRESET,
    errno.ECONNABORTED,
    errno.EHOSTUNREACH,
    errno.ENETUNREACH,
    errno.ETIMEDOUT,
    errno.EPIPE,
}
_DRIVER_OUTAGES = (
    asyncpg.PostgresConnectionError,  # class 08: connection exception
    asyncpg.CannotConnectNowError,  # starting up or shutting down
    asyncpg.AdminShutdownError,  # "terminating connection due to administrator command"
    asyncpg.CrashShutdownError,
)


class DatabaseUnavailable(Exception):
    """PostgreSQL is unreachable; the caller should answer "retry later"."""

    def __init__(self) -> None:
        super().__init__("the database is unreachable; retry shortly")


def _causes(error: BaseException) -> list[BaseException]:
    """The error, what it wraps (SQLAlchemy's `orig`) and what caused it, a few deep."""
    seen: list[BaseException] = []
    pending: list[BaseException | None] = [error]
    while pending and len(seen) < 12:
        current = pending.pop()
        if current is None or any(current is known for known in seen):
            continue
        seen.append(current)
        orig = getattr(current, "orig", None)
        pending += [current.__cause__, current.__context__]
        if isinstance(orig, BaseException):
            pending.append(orig)
    return seen


def is_outage(error: BaseException) -> bool:
    """True when `error` says the database could not be reached, not that a query was wrong."""
    for cause in _causes(error):
        if isinstance(cause, (DatabaseUnavailable, TimeoutError, ConnectionError, socket.gaierror)):
            return True
        if isinstance(cause, (_DRIVER_OUTAGES, exc.TimeoutError)):
            return True
        if isinstance(cause, OSError) and cause.errno in _NETWORK_ERRNOS:
            return True
        if isinstance(cause, exc.DBAPIError) and cause.connection_invalidated:
            return True
        if isinstance(cause, asyncpg.InterfaceError) and "connection is closed" in str(cause):
            return True
    return False


Probe = Callable[[], Awaitable[None]]


class DatabaseGate:
    """This process's view of the database: open (normal) or shut (answer 503 at once)."""

    def __init__(self, probe: Probe | None, board: OutageBoard) -> None:
        self._probe = probe  # None: SQLite, never shut
        self.board = board
        self.down = False
        self.down_since: float | None = None
        self.reason = ""
        self._task: asyncio.Task[None] | None = None
        self._recovery_hooks: list[Callable[[], Awaitable[None] | None]] = []

    def check(self) -> None:
        """Raise at once while the database is known to be unreachable."""
        if self.down:
            raise DatabaseUnavailable

    def report(self, error: BaseException) -> None:
        """A session met `error`; when it looks like an outage, start probing."""
        if self._probe is None or not is_outage(error) or isinstance(error, DatabaseUnavailable):
            return
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._watch())

    def on_recovery(self, hook: Callable[[], Awaitable[None] | None]) -> None:
        self._recovery_hooks.append(hook)

    def refused(self) -> None:
        """A request was answered 503 because of the database; counted for the "back" line."""
        self.board.count_refusal()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _watch(self) -> None:
        """Probe until the database answers; shut the gate meanwhile."""
        while (problem := await self._try_probe()) is not None:
            if not self.down:
                self.down, self.down_since, self.reason = True, time.monotonic(), problem
                self.board.start(problem)
            await asyncio.sleep(PROBE_INTERVAL)
        if self.down:
            self.down, self.down_since = False, None
            self.board.end()
            await self._recovered()

    async def _try_probe(self) -> str | None:
        assert self._probe is not None
        try:
            await self._probe()
        except Exception as error:
            return f"{type(error).__name__}: {' '.join(str(error).split())}"[:200]
        return None

    async def _recovered(self) -> None:
        for hook in self._recovery_hooks:
            try:
                result = hook()
                if result is not None:
                    await result
            except Exception:  # a hook's failure must not keep the gate shut
                logger.exception("recovery hook failed")
