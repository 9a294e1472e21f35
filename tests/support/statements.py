"""Counting the SQL an app sends: proof that a page costs a constant number of queries."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event as sa_event

from eventhub.web.app import create_app
from tests.conftest import make_settings
from tests.support.graphql import GraphQLClient


@pytest.fixture
async def quiet_app(database_url: str, tmp_path: Path) -> AsyncIterator[tuple[Any, GraphQLClient]]:
    """An app whose hold sweeper does not run during the test, so every statement is ours."""
    app = create_app(make_settings(database_url, tmp_path, sweep_interval_seconds=3600))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield app, GraphQLClient(http)


@contextmanager
def recorded_statements(app: Any) -> Iterator[list[str]]:
    statements: list[str] = []
    engine = app.state.eventhub.engine.sync_engine

    def record(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    sa_event.listen(engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        sa_event.remove(engine, "before_cursor_execute", record)
