"""The maintained sales figures (models/sales.py) computed from scratch: to rebuild them
(`eventhub analytics rebuild`) and to prove the triggers kept them right (the tests
compare after every invariant check)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models.sales import MAINTAINED
from eventhub.models.sales_triggers import EXTRA, rebuild_statements, scratch_queries, table_columns


async def rebuild(session: AsyncSession) -> None:
    """Recompute every maintained figure from the orders, in the caller's transaction.

    On PostgreSQL the source tables are locked against writes meanwhile (bookings wait,
    reads go on), so no change slips between the delete and the recount."""
    dialect = _dialect(session)
    if dialect == "postgresql":
        await session.execute(text("LOCK TABLE orders, order_items, tickets IN SHARE MODE"))
    for statement in rebuild_statements(dialect):
        await session.execute(text(statement))
    # Inserting event_buyers fired its trigger into the groups; the groups were
    # recounted after it, from scratch, and are what they should be.


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def _nonzero(session: AsyncSession, table: str, query: str) -> set[tuple[Any, ...]]:
    keys = MAINTAINED[table][0]
    rows = (await session.execute(text(query))).all()
    extra = len(EXTRA.get(table, ()))
    out = set()
    for row in rows:
        key, values = tuple(row[: len(keys)]), tuple(int(v or 0) for v in row[len(keys) + extra :])
        if any(values):
            out.add((*(str(k) for k in key), *values))
    return out


async def differences(session: AsyncSession) -> list[str]:
    """Rows where the maintained figures and a from-scratch count disagree (empty: none)."""
    problems = []
    for table, query in scratch_queries(_dialect(session)).items():
        stored = await _nonzero(
            session, table, f"SELECT {', '.join(table_columns(table))} FROM {table}"
        )
        expected = await _nonzero(session, table, query)
        for row in sorted(stored - expected)[:5]:
            problems.append(f"{table}: kept {row}, not in a recount")
        for row in sorted(expected - stored)[:5]:
            problems.append(f"{table}: recount {row}, not kept")
    return problems
