"""Substring search with LIKE, where the user's `%` and `_` are plain characters."""

from __future__ import annotations

from sqlalchemy import ColumnElement, func
from sqlalchemy.orm import Mapped

ESCAPE = "\\"


def contains_pattern(text: str) -> str:
    """`%text%`, lower-cased, with LIKE's wildcards and the escape character escaped."""
    escaped = text.strip().lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def contains(
    column: ColumnElement[str | None] | Mapped[str | None], text: str
) -> ColumnElement[bool]:
    """`lower(column)` contains `text`, literally."""
    return func.lower(column).like(contains_pattern(text), escape=ESCAPE)
