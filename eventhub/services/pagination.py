"""Keyset pagination shared by every list the API offers."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    has_next: bool


async def fetch_page(
    session: AsyncSession,
    model: type[T],
    *,
    conditions: Sequence[ColumnElement[bool]],
    after: ColumnElement[bool] | None,
    order_by: Sequence[Any],
    limit: int,
) -> Page[T]:
    """One count and one page query; `after` is the keyset condition past the cursor."""
    total = await session.scalar(select(func.count()).select_from(model).where(*conditions))
    query = select(model).where(*conditions)
    if after is not None:
        query = query.where(after)
    rows = list((await session.scalars(query.order_by(*order_by).limit(limit + 1))).all())
    return Page(items=rows[:limit], total=int(total or 0), has_next=len(rows) > limit)
