"""`remaining`, the one rule the API's Event/TicketType and the live updates share."""

from __future__ import annotations

from eventhub.models import TicketType
from eventhub.services.inventory import event_remaining, tier_remaining


def _tier(limit: int, sold: int) -> TicketType:
    return TicketType(event_id=1, name="t", price_minor=100, seat_limit=limit, sold=sold)


def test_a_tier_has_its_limit_less_what_it_sold_never_below_zero() -> None:
    assert tier_remaining(_tier(10, 3)) == 7
    assert tier_remaining(_tier(10, 10)) == 0
    assert tier_remaining(_tier(5, 8)) == 0  # its limit lowered below what it sold


def test_an_event_has_the_smaller_of_its_room_and_its_tiers_together() -> None:
    tiers = [_tier(10, 3), _tier(5, 5), _tier(4, 6)]  # 7 + 0 + 0 left
    assert event_remaining(100, 20, tiers) == 7  # the tiers limit it
    assert event_remaining(25, 20, tiers) == 5  # the event's room limits it
    assert event_remaining(20, 23, tiers) == 0  # capacity lowered below what it sold
    assert event_remaining(50, 0, []) == 0  # no tier, nothing for sale
