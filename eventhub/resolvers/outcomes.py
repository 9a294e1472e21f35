"""Outcomes handed to the schema: a value, or the domain error to show as a UserError.

They live in resolvers, not schema, because resolvers produce them: the schema reads a
`Result` into its payload types and `schema/errors.py` classifies the exceptions, so the
imports point down (schema -> resolvers) while the outcomes travel up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from eventhub.services.errors import DomainError

T = TypeVar("T")


class SessionExpired(Exception):
    """The access token behind a live subscription ran out: the client must sign in again."""


class SubscriptionExpired(Exception):
    """An anonymous subscription lived EVENTHUB_ANONYMOUS_SUBSCRIPTION_SECONDS: subscribe again."""


class BadUserInput(Exception):
    """A malformed argument (bad cursor, `first` out of range): a GraphQL error, not data."""


@dataclass(frozen=True)
class Result(Generic[T]):
    value: T | None = None
    error: DomainError | None = None


async def attempt(work: Callable[[], Awaitable[T]]) -> Result[T]:
    """Run a service call, turning its expected failures (even in argument parsing) into data."""
    try:
        return Result(value=await work())
    except DomainError as error:
        return Result(error=error)
