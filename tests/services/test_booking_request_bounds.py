"""The bounds of one booking request, at their edges: the line cap and the idempotency
key's length (mutation testing found both untested at the boundary)."""

from __future__ import annotations

import pytest

from eventhub.services.booking import (
    MAX_KEY_LENGTH,
    MAX_LINES,
    BookingPolicy,
    LineRequest,
    ReservationRequest,
    _check_lines,
)
from eventhub.services.errors import ValidationFailed

POLICY = BookingPolicy(hold_seconds=900, max_per_tier=10)


def request(lines: int = 1, key: str | None = None) -> ReservationRequest:
    return ReservationRequest(1, [LineRequest(n, 1) for n in range(lines)], idempotency_key=key)


def test_an_order_takes_exactly_max_lines_lines() -> None:
    assert MAX_LINES == 20
    assert len(_check_lines(request(MAX_LINES), POLICY)) == MAX_LINES
    with pytest.raises(ValidationFailed) as refused:
        _check_lines(request(MAX_LINES + 1), POLICY)
    assert refused.value.field == "items"


@pytest.mark.parametrize("length", [1, MAX_KEY_LENGTH])
def test_an_idempotency_key_of_1_to_200_characters_is_taken(length: int) -> None:
    assert _check_lines(request(key="k" * length), POLICY) == {0: 1}


@pytest.mark.parametrize("length", [0, MAX_KEY_LENGTH + 1])
def test_an_empty_or_longer_idempotency_key_is_refused(length: int) -> None:
    with pytest.raises(ValidationFailed) as refused:
        _check_lines(request(key="k" * length), POLICY)
    assert refused.value.field == "idempotencyKey"
    assert MAX_KEY_LENGTH == 200
