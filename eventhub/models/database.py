"""The async engine and session factory: the one place connections are made.

SQLite gets WAL, a busy timeout and `BEGIN IMMEDIATE`, so that several worker
processes writing at once wait for each other instead of failing with
"database is locked" half-way through a booking.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
from sqlalchemy import event
from sqlalchemy.engine import ExceptionContext, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import NullPool

from eventhub.models.outage import DatabaseGate, is_outage


def create_engine(
    database_url: str,
    *,
    pool_size: int = 10,
    connect_timeout: float = 3.0,
    command_timeout: float | None = None,
    pool_timeout: float = 30.0,
) -> AsyncEngine:
    """The engine for `database_url`; on PostgreSQL every wait is bounded.

    `connect_timeout` bounds opening a connection and `command_timeout` each
    statement, so an unreachable or stalled server costs a request seconds, not
    a hang; `pool_timeout` bounds the wait for a pooled connection.
    """
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(database_url)
    connect_args: dict[str, Any] = {
        "server_settings": {"application_name": "eventhub"},
        "timeout": connect_timeout,
    }
    if command_timeout is not None:
        connect_args["command_timeout"] = command_timeout
    engine = create_async_engine(
        database_url,
        pool_size=pool_size,
        # No overflow: N workers x pool_size must stay under PostgreSQL's max_connections
        # (100 by default); a request waits for a pooled connection rather than failing.
        max_overflow=0,
        pool_timeout=pool_timeout,
        pool_pre_ping=False,
        pool_recycle=1800,
        connect_args=connect_args,
    )
    event.listen(engine.sync_engine, "handle_error", _outage_is_a_disconnect)
    return engine


def _outage_is_a_disconnect(context: ExceptionContext) -> None:
    """A timeout or reset means the connection is unusable: drop it (and the pool's others)
    rather than roll back on it, which would wait on a dead or stalled socket again."""
    if is_outage(context.original_exception):
        context.is_disconnect = True


def libpq_url(database_url: str) -> str:
    """The SQLAlchemy URL as asyncpg (libpq syntax) takes it."""
    return "postgresql://" + database_url.split("://", 1)[1]


def postgres_probe(database_url: str, timeout: float) -> Callable[[], Awaitable[None]]:
    """A probe that opens a connection of its own and runs `SELECT 1`, all within `timeout`."""
    url = libpq_url(database_url)

    async def probe() -> None:
        async with asyncio.timeout(timeout):
            connection = await asyncpg.connect(url, timeout=timeout)
            try:
                await connection.fetchval("SELECT 1")
            finally:
                connection.terminate()

    return probe


def redacted(database_url: str) -> str:
    """The URL as logs and error lines may show it: never its password."""
    try:
        return make_url(database_url).render_as_string(hide_password=True)
    except Exception:  # an unparsable URL: show only its scheme
        return database_url.split("://", 1)[0] + "://…"


def _sqlite_engine(database_url: str) -> AsyncEngine:
    # NullPool: aiosqlite runs each connection on its own thread; opening one is cheap
    # and a file database shared by worker processes must not keep stale handles.
    engine = create_async_engine(
        database_url, poolclass=NullPool, connect_args={"check_same_thread": False, "timeout": 30}
    )

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def _serialized(method: F, *, gated: bool = True) -> F:
    """One I/O call at a time; refused at once while the database is down (`gated`).

    Every failure is shown to the gate, which tells an outage from a bad query.
    Closing and rolling back are never refused: cleanup must always run.
    """

    @functools.wraps(method)
    async def wrapper(self: SerializedSession, *args: Any, **kwargs: Any) -> Any:
        gate = self.gate
        if gated and gate is not None:
            gate.check()
        try:
            async with self.io_lock:
                return await method(self, *args, **kwargs)
        except Exception as error:
            if gate is not None:
                gate.report(error)
            raise

    return wrapper  # type: ignore[return-value]


class SerializedSession(AsyncSession):
    """An AsyncSession safe to share between resolvers that GraphQL runs concurrently.

    Sibling root fields of a query resolve at the same time; an AsyncSession
    allows one operation at a time, so each I/O call waits its turn.
    (`scalars` and `stream_scalars` go through `execute` and `stream`.)
    """

    def __init__(self, *args: Any, gate: DatabaseGate | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.io_lock = asyncio.Lock()
        self.gate = gate

    execute = _serialized(AsyncSession.execute)
    # mypy cannot carry this overloaded signature through a decorator; the wrapper keeps it.
    scalar = _serialized(AsyncSession.scalar)  # type: ignore[assignment,arg-type]
    get = _serialized(AsyncSession.get)
    get_one = _serialized(AsyncSession.get_one)
    stream = _serialized(AsyncSession.stream)
    delete = _serialized(AsyncSession.delete)
    merge = _serialized(AsyncSession.merge)
    flush = _serialized(AsyncSession.flush)
    refresh = _serialized(AsyncSession.refresh)
    commit = _serialized(AsyncSession.commit)
    rollback = _serialized(AsyncSession.rollback, gated=False)
    close = _serialized(AsyncSession.close, gated=False)
    run_sync = _serialized(AsyncSession.run_sync)
    connection = _serialized(AsyncSession.connection)


def create_session_factory(
    engine: AsyncEngine, gate: DatabaseGate | None = None
) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(
        engine, class_=SerializedSession, expire_on_commit=False, autoflush=False, gate=gate
    )
