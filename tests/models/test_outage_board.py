"""The outage board: one "unreachable" and one "back" line per outage, whichever worker sees it.

Two boards on one folder stand for two worker processes of one `eventhub serve`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import exc

from eventhub.models.outage import DatabaseUnavailable, is_outage
from eventhub.models.outage_board import OutageBoard


def test_one_start_and_one_end_line_per_outage_across_workers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="eventhub.database")
    first, second = OutageBoard(tmp_path, "db"), OutageBoard(tmp_path, "db")
    assert first.start("ConnectionRefusedError") is True
    assert second.start("ConnectionRefusedError") is False
    for board in (first, second, second):
        board.count_refusal()
    assert second.end() is True
    assert first.end() is False
    lines = [record.getMessage() for record in caplog.records]
    assert len([line for line in lines if "database unreachable" in line]) == 1
    [back] = [line for line in lines if "database back" in line]
    assert "3 requests refused" in back

    # The next outage starts its count from zero.
    caplog.clear()
    assert first.start("TimeoutError") is True
    first.count_refusal()
    assert first.end() is True
    assert "1 requests refused" in caplog.records[-1].getMessage()


@pytest.mark.parametrize(
    "error",
    [
        DatabaseUnavailable(),
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        exc.TimeoutError("QueuePool limit reached"),
    ],
)
def test_connection_failures_are_outages(error: BaseException) -> None:
    assert is_outage(error)
    wrapped = exc.OperationalError("SELECT 1", {}, error)
    assert is_outage(wrapped)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("bad input"),
        asyncpg.UniqueViolationError("duplicate key"),
        exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        FileNotFoundError(2, "no such file"),
    ],
)
def test_bad_queries_and_other_errors_are_not(error: BaseException) -> None:
    assert not is_outage(error)
