"""Arguments shared by every connection: `first` (1..100) and an opaque `after` cursor."""

from __future__ import annotations

from eventhub.cursors import decode_cursor, encode_cursor
from eventhub.global_ids import parse_pk
from eventhub.resolvers.outcomes import BadUserInput

MAX_PAGE = 100
DEFAULT_PAGE = 20


def page_size(first: int | None) -> int:
    """`first` as asked, or the default when null (the contract's `first: Int = 20`)."""
    if first is None:
        return DEFAULT_PAGE
    if not 1 <= first <= MAX_PAGE:
        raise BadUserInput(f"`first` must be between 1 and {MAX_PAGE}")
    return first


def id_cursor(pk: int | None) -> str:
    return encode_cursor("id", pk)


def after_id(after: str | None) -> int | None:
    """The primary key behind a cursor made by `id_cursor`."""
    if after is None:
        return None
    parts = decode_cursor(after, 2)
    pk = parse_pk(parts[1]) if parts is not None and parts[0] == "id" else None
    if pk is None:
        raise BadUserInput("`after` is not a cursor from this connection")
    return pk
