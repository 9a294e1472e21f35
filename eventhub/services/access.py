"""Who may manage, see or scan what: the platform's access rules, in one place.

Services and resolvers ask these questions instead of comparing organizer ids
inline, so a rule changes once and reads the same everywhere. The functions are
pure: callers load what they need (an event, an organizer id, "is staff here") in
whatever query suits their path, and decide what a refusal looks like (not found,
forbidden, audited or not).
"""

from __future__ import annotations

from typing import Protocol

from eventhub.models import Event
from eventhub.models.statuses import EventStatus


class Who(Protocol):
    """Anyone asking: an `audit.Actor` or an `auth.Viewer`."""

    @property
    def user_id(self) -> int | None: ...

    @property
    def roles(self) -> frozenset[str]: ...


def is_admin(who: Who) -> bool:
    return "ADMIN" in who.roles


def is_self(who: Who, user_id: int | None) -> bool:
    """The signed-in user is `user_id`; anonymous is nobody."""
    return who.user_id is not None and who.user_id == user_id


def may_manage_organizers(who: Who, organizer_id: int | None) -> bool:
    """Organizer or admin: edit, publish, cancel, refund, see sales and analytics."""
    return is_admin(who) or is_self(who, organizer_id)


def may_manage_event(who: Who, event: Event) -> bool:
    return may_manage_organizers(who, event.organizer_id)


def may_see_event(who: Who, event: Event) -> bool:
    """Drafts are visible only to their organizer and admins; the rest to anyone."""
    return event.status != EventStatus.DRAFT or may_manage_event(who, event)


def may_scan(who: Who, organizer_id: int | None, *, staff: bool) -> bool:
    """At the door: staff assigned to the event, its organizer and admins."""
    return staff or may_manage_organizers(who, organizer_id)


def may_see_order(who: Who, buyer_id: int | None, organizer_id: int | None) -> bool:
    """An order and its tickets: the buyer, the event's organizer and admins."""
    return is_self(who, buyer_id) or may_manage_organizers(who, organizer_id)


def may_refund_after_entry(who: Who) -> bool:
    """A ticket used at the door was what was paid for: only an admin refunds it."""
    return is_admin(who)


def may_see_user(who: Who, user_id: int) -> bool:
    """A user (emails are personal data): themself and admins."""
    return is_self(who, user_id) or is_admin(who)


def may_read_audit(who: Who) -> bool:
    return is_admin(who)
