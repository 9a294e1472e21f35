"""Fixtures of the service tests that need a local mail server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.smtp_server import SmtpServer


@pytest.fixture
def smtp() -> Iterator[SmtpServer]:
    """A real SMTP server on a free local port, for the app's EVENTHUB_SMTP_URL."""
    server = SmtpServer().start()
    yield server
    server.stop()
