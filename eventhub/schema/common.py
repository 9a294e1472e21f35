"""Types shared across the schema: Node, PageInfo, Money, UserError."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from decimal import Decimal
from enum import Enum
from typing import Any, Protocol

import strawberry

from eventhub.services.errors import DomainError
from eventhub.services.money import from_minor


@strawberry.interface(description="ids are opaque strings: clients never parse them")
class Node:
    id: strawberry.ID


class _Edge(Protocol):
    cursor: str


Count = Callable[[], Awaitable[int]]


async def _count_rows(root: Any) -> int:
    count: Count = root.count
    return await count()


def total_count_field() -> Any:
    """`totalCount`, counted only when a query selects it (services/pagination.Page.count)."""
    return strawberry.field(resolver=_count_rows)


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None

    @classmethod
    def after(cls, edges: Sequence[_Edge], has_next: bool) -> PageInfo:
        return cls(has_next_page=has_next, end_cursor=edges[-1].cursor if edges else None)


@strawberry.type(description="stored as integer minor units")
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, minor: int, currency: str) -> Money:
        return cls(amount=from_minor(minor, currency), currency=currency)


@strawberry.enum
class ErrorCode(Enum):
    VALIDATION = "VALIDATION"
    NOT_FOUND = "NOT_FOUND"
    CONFLICT = "CONFLICT"
    SOLD_OUT = "SOLD_OUT"
    SALES_CLOSED = "SALES_CLOSED"
    PROMO_INVALID = "PROMO_INVALID"
    PROMO_EXHAUSTED = "PROMO_EXHAUSTED"
    EMAIL_TAKEN = "EMAIL_TAKEN"
    INVALID_CREDENTIALS = "INVALID_CREDENTIALS"
    TOKEN_REUSED = "TOKEN_REUSED"
    NOT_REFUNDABLE = "NOT_REFUNDABLE"
    ALREADY_CHECKED_IN = "ALREADY_CHECKED_IN"
    LIMIT_EXCEEDED = "LIMIT_EXCEEDED"
    PAYMENT_FAILED = "PAYMENT_FAILED"


@strawberry.type(description="An expected business outcome, returned as data")
class UserError:
    code: ErrorCode
    message: str
    field: str | None = None

    @classmethod
    def from_domain(cls, error: DomainError) -> UserError:
        """The one mapping from domain errors to the API's codes."""
        return cls(code=ErrorCode(error.code), message=error.message, field=error.field)


def errors_of(error: DomainError | None) -> list[UserError]:
    return [] if error is None else [UserError.from_domain(error)]


@strawberry.type
class DeletePayload:
    deleted_id: strawberry.ID | None
    errors: list[UserError]
