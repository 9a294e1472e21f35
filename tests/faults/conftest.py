"""Real `eventhub serve` processes whose PostgreSQL goes through a fault proxy.

`pg_url` is a fresh PostgreSQL database for the test (same EVENTHUB_TEST_POSTGRES_URL
rule as tests/conftest.py: skip when unset and nothing answers, fail when set);
`db_proxy` forwards to its server and fails on command (tests/support/fault_proxy.py);
`launch` starts servers on a given database URL and stops them after the test,
printing their logs when it failed. The shared servers themselves are never touched.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.conftest import (  # noqa: F401  (fixtures, and the hook that keeps reports)
    Database,
    RunningServer,
    ServerLauncher,
    _failed,
    e2e_database_url,
    pytest_runtest_makereport,
)
from tests.support.fault_proxy import FaultProxy, fault_proxy
from tests.support.ws import _fresh_database


@pytest.fixture
async def pg_url(tmp_path: Path) -> AsyncIterator[str]:
    """A new, empty PostgreSQL database (the server migrates it on start)."""
    async with _fresh_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def db_proxy(pg_url: str) -> Iterator[FaultProxy]:
    parts = urlsplit(pg_url)
    with fault_proxy(parts.hostname or "127.0.0.1", parts.port or 5432) as proxy:
        yield proxy


@pytest.fixture
def proxied_url(pg_url: str, db_proxy: FaultProxy) -> str:
    return db_proxy.url_for(pg_url)


@pytest.fixture
def database(pg_url: str) -> Database:
    """Read what was really stored, straight to PostgreSQL (never through the proxy)."""
    return Database(pg_url)


class Launchers:
    """`await launch(url, workers=2, **settings)`; every server is stopped after the test."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.launchers: list[ServerLauncher] = []

    async def __call__(
        self, url: str, *, workers: int = 1, **settings: str | float
    ) -> RunningServer:
        launcher = ServerLauncher(url, self.folder / f"run{len(self.launchers) + 1}")
        launcher.workdir.mkdir()
        self.launchers.append(launcher)
        return await launcher(workers=workers, **settings)

    @property
    def servers(self) -> list[RunningServer]:
        return [server for launcher in self.launchers for server in launcher.servers]


@pytest.fixture
def launch(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Launchers]:
    launchers = Launchers(tmp_path)
    yield launchers
    for launcher in launchers.launchers:
        launcher.stop_all()
    if _failed(request.node):
        for server in launchers.servers:
            print(f"\n===== {server.name} log ({server.base_url}) =====\n{server.log()}")
