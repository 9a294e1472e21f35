"""The access rules, one question at a time: who may manage, see, scan and read what."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from eventhub.models import Event
from eventhub.services import access
from eventhub.services.audit import Actor

ORGANIZER = Actor(1, roles=frozenset({"ORGANIZER"}))
OTHER_ORGANIZER = Actor(2, roles=frozenset({"ORGANIZER"}))
ADMIN = Actor(3, roles=frozenset({"ADMIN"}))
CUSTOMER = Actor(4, roles=frozenset({"CUSTOMER"}))
ANONYMOUS = Actor()


def _event(status: str) -> Event:
    return Event(
        id=10,
        organizer_id=1,
        name="Gig",
        venue="Hall",
        starts_at=datetime(2030, 1, 1, tzinfo=UTC),
        capacity=10,
        status=status,
    )


@pytest.mark.parametrize(
    ("who", "manages"),
    [
        (ORGANIZER, True),
        (ADMIN, True),
        (OTHER_ORGANIZER, False),
        (CUSTOMER, False),
        (ANONYMOUS, False),
    ],
)
def test_only_the_organizer_and_admins_manage_an_event(who: Actor, manages: bool) -> None:
    event = _event("PUBLISHED")
    assert access.may_manage_event(who, event) is manages
    assert access.may_see_event(who, _event("DRAFT")) is manages  # a draft is the managers'
    assert access.may_see_event(who, event)  # anything else is anyone's
    assert access.may_scan(who, event.organizer_id, staff=False) is manages
    assert access.may_scan(who, event.organizer_id, staff=True)  # assigned staff scan too


def test_anonymous_is_nobody_even_where_an_id_is_missing() -> None:
    assert not access.may_manage_organizers(ANONYMOUS, None)
    assert not access.may_see_order(ANONYMOUS, None, None)
    assert not access.is_self(ANONYMOUS, None)


@pytest.mark.parametrize(
    ("who", "sees"),
    [
        (CUSTOMER, True),
        (ORGANIZER, True),
        (ADMIN, True),
        (OTHER_ORGANIZER, False),
        (ANONYMOUS, False),
    ],
)
def test_an_order_is_its_buyers_its_organizers_and_admins(who: Actor, sees: bool) -> None:
    assert access.may_see_order(who, CUSTOMER.user_id, ORGANIZER.user_id) is sees


def test_users_and_the_audit_log_are_personal_or_the_admins() -> None:
    assert access.may_see_user(CUSTOMER, 4)
    assert access.may_see_user(ADMIN, 4)
    assert not access.may_see_user(ORGANIZER, 4)
    assert not access.may_see_user(ANONYMOUS, 4)
    assert access.may_read_audit(ADMIN)
    assert access.may_refund_after_entry(ADMIN)
    assert not access.may_read_audit(ORGANIZER)
    assert not access.may_refund_after_entry(ORGANIZER)
