"""The maintained sales figures equal a recount from scratch, and the rebuild restores them.

After the hand-computed festival (bookings, promo codes, a buyer's cancel, an
organizer's refund, check-ins, payment times moved across hours and days),
every maintained row equals what `services/sales_rollup.py` counts from the
orders; a figure knocked off is reported, and `rebuild` puts it back to the
same rows the triggers kept. (The booking invariant tests, which race bookings,
payments, refunds and expiry, compare the same way after each run, through
tests/support/invariant.py.) Both databases.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models.sales import MAINTAINED
from eventhub.services import sales_rollup
from tests.support.analytics_fixture import build_festival
from tests.support.graphql import GraphQLClient
from tests.test_settings_and_cli import run_cli_async


async def snapshot(session: AsyncSession) -> dict[str, list[Any]]:
    tables = {}
    for table, (keys, measures) in MAINTAINED.items():
        columns = ", ".join([*keys, *measures])
        rows = await session.execute(text(f"SELECT {columns} FROM {table}"))
        tables[table] = sorted(tuple(str(v) for v in row) for row in rows if any(row[len(keys) :]))
    return tables


async def test_the_triggers_keep_what_a_recount_finds_and_rebuild_restores_it(
    client: GraphQLClient, session: AsyncSession
) -> None:
    await build_festival(client, session)
    assert await sales_rollup.differences(session) == []
    kept = await snapshot(session)
    assert all(kept[table] for table in MAINTAINED), kept  # every table has figures

    await session.execute(text("UPDATE event_sales SET gross = gross + 1"))
    await session.execute(text("DELETE FROM event_buyer_groups"))
    await session.execute(text("UPDATE tier_sales_hours SET seats = seats + 2"))
    found = await sales_rollup.differences(session)
    assert {line.split(":")[0] for line in found} == {
        "event_sales",
        "event_buyer_groups",
        "tier_sales_hours",
    }, found

    await sales_rollup.rebuild(session)
    await session.commit()
    assert await sales_rollup.differences(session) == []
    assert await snapshot(session) == kept


async def test_the_rebuild_command_checks_and_repairs(
    client: GraphQLClient, session: AsyncSession, database_url: str, tmp_path: Path
) -> None:
    await build_festival(client, session)
    await session.execute(text("UPDATE event_sales SET refunds = 0"))
    await session.commit()
    url = {"EVENTHUB_DATABASE_URL": database_url}
    checked = await run_cli_async(tmp_path, "analytics", "rebuild", "--check", **url)
    assert checked.returncode == 1, checked.stderr
    assert "event_sales: kept" in checked.stdout
    rebuilt = await run_cli_async(tmp_path, "analytics", "rebuild", **url)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert rebuilt.stdout.strip().endswith("analytics figures recounted")
    assert await sales_rollup.differences(session) == []
    await session.rollback()  # end the read, so SQLite lets the command write
    again = await run_cli_async(tmp_path, "analytics", "rebuild", "--check", **url)
    assert again.returncode == 0, again.stdout
    assert again.stdout.strip().endswith("analytics figures equal a recount")
