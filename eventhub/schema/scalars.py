"""Scalars whose parsing is stricter than Strawberry's defaults.

The contract's `DateTime` always carries a UTC offset. Strawberry's built-in
parser accepts a naive `2030-01-01T00:00:00`, which would then be guessed at
(or fail deep in the model layer); here it is refused as bad input, at the edge.

A `Decimal` is checked by its text (length, digits, exponent) before it is
converted, so an absurd number costs a regular expression, not arithmetic; and
an `Upload` must be a file part of a multipart request, not a string.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import strawberry
from graphql import FloatValueNode, IntValueNode, StringValueNode, ValueNode
from strawberry.file_uploads import Upload
from strawberry.types.scalar import ScalarDefinition

from eventhub.resolvers.outcomes import BadUserInput

MAX_DECIMAL_CHARS = 40
DECIMAL_TEXT = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d{1,3})?")


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
    try:
        parsed.astimezone(UTC)  # "0001-01-01T00:00:00+05:00" has no UTC time to compare
    except OverflowError:
        raise BadUserInput(f"{value!r} is out of range") from None
    return parsed


def serialize_datetime(value: datetime) -> str:
    return value.isoformat()


AWARE_DATETIME = strawberry.scalar(
    name="DateTime",
    description="Date with time (isoformat)",
    serialize=serialize_datetime,
    parse_value=parse_aware_datetime,
)


def parse_decimal(value: object) -> Decimal:
    """A plain decimal number ("299.00", "1.5e3"); no NaN, no Infinity, nothing huge."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise BadUserInput('Decimal must be a number in a string, e.g. "299.00"')
    text = value.strip() if isinstance(value, str) else repr(value)
    if len(text) > MAX_DECIMAL_CHARS:
        raise BadUserInput(f"a Decimal has at most {MAX_DECIMAL_CHARS} characters")
    if not DECIMAL_TEXT.fullmatch(text):
        raise BadUserInput(
            f'{text!r} is not a decimal number like "299.00" (an exponent has at most 3 digits)'
        )
    return Decimal(text)


def parse_decimal_literal(node: ValueNode, variables: dict[str, Any] | None = None) -> Decimal:
    """A literal's own text is checked: `price: 1e400000` is never turned into a float."""
    if isinstance(node, StringValueNode | IntValueNode | FloatValueNode):
        return parse_decimal(node.value)
    raise BadUserInput('Decimal must be a number in a string, e.g. "299.00"')


BOUNDED_DECIMAL = strawberry.scalar(
    name="Decimal",
    description="Decimal (fixed-point)",
    serialize=str,
    parse_value=parse_decimal,
    parse_literal=parse_decimal_literal,
)


def parse_upload(value: object) -> object:
    """What the multipart request mapped into the variable; a JSON value is no file."""
    if not callable(getattr(value, "read", None)):
        raise BadUserInput(
            "Upload must be a file part of a multipart/form-data request "
            "(GraphQL multipart request spec), not a JSON value"
        )
    return value


FILE_UPLOAD = strawberry.scalar(
    name="Upload",
    description="Represents a file upload.",
    serialize=lambda value: value,
    parse_value=parse_upload,
)

SCALAR_MAP: dict[object, ScalarDefinition] = {
    datetime: AWARE_DATETIME,
    Decimal: BOUNDED_DECIMAL,
    Upload: FILE_UPLOAD,
}
