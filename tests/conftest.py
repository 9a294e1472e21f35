"""Fixtures that build real databases (SQLite file and PostgreSQL) and a real app.

Every test that asks for `settings`, `app`, `client` or `session` runs twice:
once on SQLite, once on PostgreSQL. The PostgreSQL half needs a server:
- EVENTHUB_TEST_POSTGRES_URL set (CI): it must answer, or the run fails;
- unset: 127.0.0.1:5432 is tried, and if nothing answers those tests skip
  with a message saying how to enable them.
Each run creates its own PostgreSQL database (migrated once) and drops it at
the end; between tests every table is truncated. SQLite tests each get a
fresh copy of a migrated template file.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models.migrate import upgrade_database
from eventhub.settings import Settings, _new_ed25519_pem
from tests.support.clock import SteppedClock
from tests.support.graphql import GraphQLClient

T = TypeVar("T")
DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_ENV = "EVENTHUB_TEST_POSTGRES_URL"
TEST_SECRET = "test-secret-key-for-eventhub-tests-0123456789"
TEST_TICKET_KEY = _new_ed25519_pem()


def _admin_pg_url() -> tuple[str, bool]:
    """(libpq URL of a maintenance database, whether it was required by the environment)."""
    configured = os.environ.get(PG_ENV)
    return (configured or DEFAULT_PG), bool(configured)


async def _pg_answers(url: str) -> str | None:
    try:
        connection = await asyncpg.connect(url, timeout=3)
    except (TimeoutError, OSError, asyncpg.PostgresError) as error:
        return f"{type(error).__name__}: {error}"
    await connection.close()
    return None


def _asyncpg_to_sqlalchemy(url: str) -> str:
    return "postgresql+asyncpg://" + url.split("://", 1)[1]


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade_database(f"sqlite+aiosqlite:///{path}")
    return path


def run_blocking(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to completion from sync code, even inside a running loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, work).result()


async def _admin_execute(admin_url: str, sql: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(sql)
    finally:
        await connection.close()


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this run, dropped afterwards."""
    admin_url, required = _admin_pg_url()
    problem = run_blocking(_pg_answers(admin_url))
    if problem:
        message = f"PostgreSQL at {admin_url} does not answer ({problem})"
        if required:
            pytest.fail(f"{PG_ENV} is set but {message}", pytrace=False)
        pytest.skip(f"{message}; start it or set {PG_ENV} to run the PostgreSQL half")
    name = f"eventhub_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    run_blocking(_admin_execute(admin_url, f'CREATE DATABASE "{name}"'))
    base = admin_url.rsplit("/", 1)[0]
    database_url = _asyncpg_to_sqlalchemy(f"{base}/{name}")
    try:
        upgrade_database(database_url)
        yield database_url
    finally:
        run_blocking(_admin_execute(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


async def _truncate_postgres(database_url: str) -> None:
    connection = await asyncpg.connect(database_url.replace("postgresql+asyncpg", "postgresql"))
    try:
        tables = await connection.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
        names = ", ".join(f'"{row["tablename"]}"' for row in tables)
        await connection.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await connection.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, sqlite_template: Path
) -> Iterator[str]:
    """An empty, migrated database of each kind."""
    if request.param == "sqlite":
        path = tmp_path / "eventhub.db"
        shutil.copyfile(sqlite_template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_database")
    yield url
    run_blocking(_truncate_postgres(url))


def make_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "database_url": database_url,
        "secret_key": TEST_SECRET,
        "ticket_signing_key": TEST_TICKET_KEY,
        "password_hash_time_cost": 1,
        "password_hash_memory_kib": 1024,
        "upload_dir": tmp_path / "uploads",
        "mail_dir": tmp_path / "mail",
        "sweep_interval_seconds": 0.2,
        # The outbox worker polls once a minute unless a test that delivers asks for more:
        # its background statements would otherwise land in the tests that count SQL.
        "outbox_poll_seconds": 60,
    }
    values.update(overrides)
    return Settings(_env_file=None, **values)  # type: ignore[call-arg]


REDIS_ENV = "EVENTHUB_TEST_REDIS_URL"


def _redis_problem(url: str) -> str | None:
    import redis

    try:
        redis.Redis.from_url(url, socket_timeout=3, socket_connect_timeout=3).ping()
    except (redis.RedisError, OSError) as error:
        return f"{type(error).__name__}: {error}"
    return None


@pytest.fixture(scope="session")
def redis_server_url() -> str:
    """Redis for tests, by the PostgreSQL rule: EVENTHUB_TEST_REDIS_URL set -> it must answer
    (else the run fails); unset -> the Redis tests skip with a message."""
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"set {REDIS_ENV} (e.g. redis://127.0.0.1:6379/0) to run the Redis tests")
    problem = _redis_problem(url)
    if problem:
        pytest.fail(f"{REDIS_ENV} is set but Redis at {url} does not answer ({problem})")
    return url


@pytest.fixture
def redis_key_prefix() -> str:
    """A key prefix of this test's own, so tests running at once never share counters."""
    return f"eventhub-test-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path)


@pytest.fixture
def clock() -> SteppedClock:
    """The app's clock: `clock.advance(seconds)` moves past an expiry without sleeping."""
    return SteppedClock()


@pytest.fixture
async def app(settings: Settings, clock: SteppedClock) -> AsyncIterator[Any]:
    from eventhub.web.app import create_app

    application = create_app(settings, clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: Any) -> AsyncIterator[GraphQLClient]:
    transport = httpx.ASGITransport(app=app, client=("203.0.113.7", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield GraphQLClient(http)


@pytest.fixture
async def session(app: Any) -> AsyncIterator[AsyncSession]:
    """A session on the app's database, for arranging data and checking what was stored."""
    async with app.state.eventhub.session_factory() as db_session:
        yield db_session


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Secrets and uploads generated by code under test land in the test's own folder."""
    monkeypatch.chdir(tmp_path)
