"""Opaque pagination cursors: base64url of "|"-joined parts, made and read only by us.

A format at the package root, beside `global_ids`: the schema writes cursors on edges,
resolvers read `after` arguments (a bad cursor is BAD_USER_INPUT, raised there).
"""

from __future__ import annotations

import base64
import binascii


def encode_cursor(*parts: object) -> str:
    raw = "|".join(str(p) for p in parts).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(value: str | None, arity: int) -> list[str] | None:
    if not value:
        return None
    try:
        raw = base64.urlsafe_b64decode(value + "=" * (-len(value) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    parts = raw.split("|")
    return parts if len(parts) == arity else None
