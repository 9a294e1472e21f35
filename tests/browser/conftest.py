"""Browser tests drive Debian's chromium against a real `eventhub serve` (tests/e2e fixtures).

The e2e fixtures are re-exported here so a browser test gets the same fresh
SQLite and PostgreSQL databases, the same server launcher, and the server
logs printed when it fails.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, async_playwright

from tests.e2e.conftest import (  # noqa: F401  (fixtures and the report hook, re-exported)
    e2e_database_url,
    is_sqlite,
    pytest_runtest_makereport,
    start_server,
)

CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture
def chromium() -> Path:
    """Debian's chromium; a missing browser fails the test (CI installs it), never skips."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} not found: the dashboard tests drive Debian's chromium. "
            "Install it with `apt-get install chromium` (CI does this in .ci/run).",
            pytrace=False,
        )
    return CHROMIUM


@pytest.fixture
async def browser(chromium: Path) -> AsyncIterator[Browser]:
    """A headless chromium driven by Playwright, closed after the test."""
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(executable_path=str(chromium), headless=True)
        try:
            yield launched
        finally:
            await launched.close()
