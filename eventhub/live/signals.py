"""The change signal: services announce that an event's numbers changed, once it is committed.

Services call `changed(session, event_id)` inside the transaction that
changes `sold`, a refund or a check-in. On PostgreSQL that is `pg_notify`,
which the database delivers only if the transaction commits, to every
worker's LISTEN connection (`listener.py`); on SQLite an after-commit hook
signals this process. A rolled-back transaction publishes nothing.

This module imports nothing above the models, so that services may call it.
"""

from __future__ import annotations

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from eventhub.live.hub import HUB

CHANNEL = "eventhub_changes"
_PENDING = "eventhub_changed_events"  # SQLite: this process's watches hear of it on commit
_TOUCHED = "eventhub_touched_events"  # every database: this process's change observers do


async def changed(session: AsyncSession, event_id: int) -> None:
    """Announce, once the caller's transaction commits, that the event's numbers changed."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": str(event_id)},
        )
        touched(session, event_id)
    else:
        session.sync_session.info.setdefault(_PENDING, set()).add(event_id)


def touched(session: AsyncSession, event_id: int) -> None:
    """For a statement that carries its own pg_notify: this process's change observers
    (the response cache) hear of it as the transaction commits, before the caller
    answers, where the NOTIFY comes back to this process a little later."""
    session.sync_session.info.setdefault(_TOUCHED, set()).add(event_id)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: set[int] = session.info.pop(_PENDING, set())
    for event_id in pending:
        HUB.signal(event_id)
    for event_id in session.info.pop(_TOUCHED, set()) - pending:
        HUB.observe_change(event_id)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_TOUCHED, None)
