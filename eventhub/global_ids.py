"""Opaque global ids: base64url of "Type:pk". Clients never parse them; we do, here only.

A format, like the QR token's: pure functions, no Strawberry, no database. It sits at the
package root, below every layer, because three layers speak it: the schema encodes ids
on the way out, web routes (QR images, event images) decode them from paths, and
resolvers decode arguments, since an id that names nothing is a domain NotFound with a
field, answered as data inside `resolvers.outcomes.attempt` like any other.
"""

from __future__ import annotations

import base64
import binascii

# Primary keys are INTEGER columns: a larger number names no row, and PostgreSQL
# would refuse to compare it with one. Such ids are simply not ours.
MAX_PK = 2**31 - 1


def encode_id(type_name: str, pk: int | None) -> str:
    raw = f"{type_name}:{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def parse_id(value: str) -> tuple[str, int] | None:
    """(type name, primary key), or None for anything that is not one of our ids."""
    if not value or len(value) > 64:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    type_name, sep, pk = raw.partition(":")
    number = parse_pk(pk)
    if not sep or number is None:
        return None
    return type_name, number


def parse_pk(text: str) -> int | None:
    """A decimal primary key within the columns' range, or None; never a huge int()."""
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if 1 <= number <= MAX_PK else None


def decode_id(value: str, expected_type: str) -> int | None:
    parsed = parse_id(value)
    if parsed is None or parsed[0] != expected_type:
        return None
    return parsed[1]
