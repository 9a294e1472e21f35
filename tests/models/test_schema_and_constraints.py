"""The migrated database is the models' schema, and it defends itself.

The Alembic migrations must produce exactly what the SQLModel metadata
describes (autogenerate finds nothing to do), and the database itself refuses
overselling counters and edits to the audit trail, even to a buggy query.
"""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlmodel import SQLModel

import eventhub.models  # noqa: F401  (registers every table on the metadata)
from tests.support.factories import create_event
from tests.support.graphql import GraphQLClient


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, SQLModel.metadata))


async def test_the_migrations_build_exactly_the_models_schema(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
            tables = await connection.run_sync(lambda sync: set(sync.dialect.get_table_names(sync)))
    finally:
        await engine.dispose()
    assert differences == []
    assert set(SQLModel.metadata.tables) <= tables  # the comparison did see the tables


async def _arrange(client: GraphQLClient) -> None:
    """One published event (capacity 500; tiers of 100, 300 and 50; EARLY25 max 100 uses)."""
    organizer = await client.register(organizer=True)
    await create_event(client, organizer)


CHECKS = {
    "tier sold above its limit": "UPDATE ticket_types SET sold = seat_limit + 1",
    "tier sold below zero": "UPDATE ticket_types SET sold = -1",
    "event sold above capacity": "UPDATE events SET sold = capacity + 1",
    "event sold below zero": "UPDATE events SET sold = -1",
    "promo uses above max": "UPDATE promo_codes SET uses = max_uses + 1 WHERE max_uses IS NOT NULL",
    "promo uses below zero": "UPDATE promo_codes SET uses = -1",
}
TOTALS = """SELECT (SELECT SUM(sold) FROM ticket_types), (SELECT sold FROM events),
  (SELECT SUM(uses) FROM promo_codes)"""


async def test_check_constraints_refuse_impossible_counters(
    client: GraphQLClient, session: AsyncSession
) -> None:
    await _arrange(client)
    accepted: list[str] = []
    for name, sql in CHECKS.items():
        try:
            await session.execute(text(sql))
        except IntegrityError:
            pass
        else:
            accepted.append(name)
        finally:
            await session.rollback()
    assert accepted == []
    assert tuple((await session.execute(text(TOTALS))).one()) == (0, 0, 0)


async def test_counters_may_reach_their_caps_exactly(
    client: GraphQLClient, session: AsyncSession
) -> None:
    await _arrange(client)
    for sql in (
        "UPDATE ticket_types SET sold = seat_limit",
        "UPDATE events SET sold = capacity",
        "UPDATE promo_codes SET uses = max_uses WHERE max_uses IS NOT NULL",
    ):
        await session.execute(text(sql))
    await session.commit()
    capped = await session.execute(text("SELECT sold, seat_limit FROM ticket_types"))
    assert all(sold == limit for sold, limit in capped)


@pytest.mark.parametrize(
    "sql",
    ["UPDATE audit_entries SET action = 'edited'", "DELETE FROM audit_entries"],
    ids=["update", "delete"],
)
async def test_the_database_refuses_to_edit_or_delete_audit_entries(
    client: GraphQLClient, session: AsyncSession, sql: str
) -> None:
    await client.register()  # writes user.register
    before = list((await session.execute(text("SELECT id, action FROM audit_entries"))).all())
    assert before
    await session.rollback()
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text(sql))
    await session.rollback()
    after = list((await session.execute(text("SELECT id, action FROM audit_entries"))).all())
    assert after == before
