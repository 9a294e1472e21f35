"""Scalars whose parsing is stricter than Strawberry's defaults.

The contract's `DateTime` always carries a UTC offset. Strawberry's built-in
parser accepts a naive `2030-01-01T00:00:00`, which would then be guessed at
(or fail deep in the model layer); here it is refused as bad input, at the edge.
"""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types.scalar import ScalarDefinition

from eventhub.resolvers.results import BadUserInput


def parse_aware_datetime(value: object) -> datetime:
    if not isinstance(value, str):
        raise BadUserInput("DateTime must be an ISO 8601 string with a UTC offset")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadUserInput(f"{value!r} is not an ISO 8601 date-time") from None
    if parsed.tzinfo is None:
        raise BadUserInput(
            f"{value!r} has no UTC offset; write e.g. 2030-01-01T18:00:00Z or +02:00"
        )
    return parsed


def serialize_datetime(value: datetime) -> str:
    return value.isoformat()


AWARE_DATETIME = strawberry.scalar(
    name="DateTime",
    description="Date with time (isoformat)",
    serialize=serialize_datetime,
    parse_value=parse_aware_datetime,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {datetime: AWARE_DATETIME}
