"""What `eventhub serve` checks before it starts uvicorn, each failure one clear line.

An operator starting the server wants to read why it did not start, not a
146-line traceback: the port is taken (and which flag changes it), the
database does not answer (its URL, password hidden, and how long we waited),
or the database cannot be migrated (e.g. it is at a revision this release
does not know). Each check raises `StartupError` with that line.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import socket
import time

from alembic.util.exc import CommandError
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from eventhub.models.database import create_engine, redacted
from eventhub.models.migrate import upgrade_database

logger = logging.getLogger("eventhub.startup")
RETRY_SECONDS = 1.0


class StartupError(Exception):
    """The server cannot start; the message is the one line to print."""


def check_port_free(host: str, port: int) -> None:
    """Bind and release (host, port) as uvicorn will, so a taken port is named up front."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise StartupError(f"--host {host}: cannot resolve it ({error.strerror})") from None
    family, kind, proto, _name, address = infos[0]
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(address)
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                raise StartupError(
                    f"port {port} on {host} is already in use; choose another with --port"
                ) from None
            raise StartupError(f"cannot listen on {host}:{port} ({error.strerror})") from None


def describe_failure(error: BaseException) -> str:
    """One line for a connection failure: the driver's own words, no SQL, no trace."""
    original = error.orig if isinstance(error, DBAPIError) and error.orig is not None else error
    message = " ".join(str(original).split()) or "no answer"
    return f"{type(original).__name__}: {message}"[:300]


async def _answers(database_url: str, connect_timeout: float) -> str | None:
    """None when the database answers `SELECT 1`, else why not."""
    engine = create_engine(database_url, pool_size=1, connect_timeout=connect_timeout)
    try:
        async with engine.connect() as connection:
            await asyncio.wait_for(connection.execute(text("SELECT 1")), connect_timeout)
    except Exception as error:
        return describe_failure(error)
    finally:
        await engine.dispose()
    return None


def wait_for_database(database_url: str, wait_seconds: float, connect_timeout: float) -> None:
    """Return once the database answers, retrying for up to `wait_seconds`."""
    deadline = time.monotonic() + wait_seconds
    problem = asyncio.run(_answers(database_url, connect_timeout))
    if problem and wait_seconds > 0:
        logger.warning(
            "database %s does not answer yet (%s); retrying for up to %gs",
            redacted(database_url),
            problem,
            wait_seconds,
        )
    while problem and time.monotonic() + RETRY_SECONDS < deadline:
        time.sleep(RETRY_SECONDS)
        problem = asyncio.run(_answers(database_url, connect_timeout))
    if problem:
        hint = (
            f"waited {wait_seconds:g}s"
            if wait_seconds > 0
            else "start with --wait-for-db SECONDS to retry"
        )
        raise StartupError(f"database {redacted(database_url)} unreachable: {problem} ({hint})")


def migrate(database_url: str) -> None:
    """Bring the schema up to date, or say in one line why it cannot be."""
    try:
        upgrade_database(database_url)
    except CommandError as error:
        raise StartupError(
            f"cannot migrate database {redacted(database_url)}: {error} "
            "(was it migrated by a newer EventHub release?)"
        ) from None
    except Exception as error:
        raise StartupError(
            f"cannot migrate database {redacted(database_url)}: {describe_failure(error)}"
        ) from None
