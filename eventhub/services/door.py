"""At the door: validating a scanned ticket, online or from offline scans.

The signature is checked before anything touches the database, so forged or
truncated tokens cost no write. Admission is one conditional update
(`… SET status = 'USED' WHERE id = … AND status = 'VALID'`), so two scanners
at two doors can never both admit the same ticket.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.live import signals
from eventhub.models import AuditEntry, Event, EventStaff, Ticket
from eventhub.models.base import table_of
from eventhub.models.statuses import TicketStatus
from eventhub.services import access, audit, outbox
from eventhub.services.errors import NotFound, PermissionDenied, ValidationFailed
from eventhub.services.ticket_tokens import InvalidToken, TicketSigner

logger = logging.getLogger("eventhub.door")
TICKETS = table_of(Ticket)
AUDIT = table_of(AuditEntry)


@dataclass(frozen=True)
class Validation:
    outcome: str  # VALID | ALREADY_USED | VOID | WRONG_EVENT | INVALID
    ticket: Ticket | None = None
    first_checked_in_at: datetime | None = None


WRONG_EVENT = Validation("WRONG_EVENT")


async def ensure_door_access(session: AsyncSession, event_id: int, actor: audit.Actor) -> datetime:
    """Assigned staff, the event's organizer and admins; anyone else is refused.

    One query answers "who organizes it", "is the actor staff there" and "when
    does it start" (the event's start time is returned): this runs before every
    scan at the door.
    """
    is_staff = (
        select(col(EventStaff.event_id))
        .where(col(EventStaff.event_id) == event_id, col(EventStaff.user_id) == actor.user_id)
        .exists()
    )
    row = (
        await session.execute(
            select(col(Event.organizer_id), is_staff, col(Event.starts_at)).where(
                col(Event.id) == event_id
            )
        )
    ).first()
    if row is None:
        raise NotFound("no such event", field="eventId")
    organizer_id, staff, starts_at = row
    if access.may_scan(actor, organizer_id, staff=staff):
        return starts_at if starts_at.tzinfo else starts_at.replace(tzinfo=UTC)
    await audit.record_now(
        session, actor, "ticket.validate_denied", target_type="Event", target_id=event_id
    )
    raise PermissionDenied("you are not staff at this event")


async def _admit(
    session: AsyncSession, ticket_id: int, event_id: int, at: datetime, by: int | None
) -> Ticket | None:
    """The conditional update; the admitted ticket as it is now, or None."""
    row = (
        await session.execute(
            update(TICKETS)
            .where(
                TICKETS.c.id == ticket_id,
                TICKETS.c.event_id == event_id,
                TICKETS.c.status == TicketStatus.VALID,
            )
            .values(status=TicketStatus.USED, checked_in_at=at, checked_in_by_id=by)
            .returning(*TICKETS.c)
        )
    ).first()
    if row is None:
        return None
    await signals.changed(session, event_id)
    ticket = Ticket(**row._mapping)
    await outbox.ticket_checked_in(session, ticket)
    return ticket


async def _outcome_after_miss(session: AsyncSession, ticket_id: int, event_id: int) -> Validation:
    """Why a signed ticket of this event was not admitted. Another event's ticket is
    WRONG_EVENT and nothing more: its buyer, status and id are not this door's business."""
    ticket = await session.get(Ticket, ticket_id, populate_existing=True)
    if ticket is None:
        return Validation("INVALID")
    if ticket.event_id != event_id:
        return WRONG_EVENT
    if ticket.status == TicketStatus.VOID:
        return Validation("VOID", ticket)
    return Validation("ALREADY_USED", ticket, ticket.checked_in_at)


async def validate_ticket(
    session: AsyncSession,
    signer: TicketSigner,
    event_id: int,
    token: str,
    actor: audit.Actor,
    *,
    now: datetime,
) -> Validation:
    """Admit the ticket's holder at `now` (the request's instant), or say why not."""
    await ensure_door_access(session, event_id, actor)
    try:
        claims = signer.verify(token)
    except InvalidToken as error:
        logger.info("invalid ticket token at event %s: %s", event_id, error)
        await session.rollback()
        return Validation("INVALID")
    if claims.event_id != event_id:
        result = WRONG_EVENT  # the signed event id says so: the ticket is not even read
    elif admitted := await _admit(session, claims.ticket_id, event_id, now, actor.user_id):
        result = Validation("VALID", admitted)
    else:
        result = await _outcome_after_miss(session, claims.ticket_id, event_id)
    entry = audit.entry_values(
        actor,
        "ticket.validate",
        target_type="Ticket",
        target_id=claims.ticket_id,
        details={"outcome": result.outcome, "event_id": event_id},
    )
    await session.execute(insert(AUDIT).values(entry))  # Core: this path runs per scan
    await session.commit()
    return result


@dataclass(frozen=True)
class OfflineScan:
    token: str
    scanned_at: datetime


@dataclass(frozen=True)
class ScanResult:
    token: str
    outcome: str  # ACCEPTED | DUPLICATE | VOID | WRONG_EVENT | INVALID | REFUSED
    ticket_id: int | None
    first_checked_in_at: datetime | None


MAX_SCANS_PER_SYNC = 500
CLOCK_SKEW = timedelta(minutes=5)  # a scanner's clock may run this far ahead of ours


@dataclass(frozen=True)
class ScanWindow:
    """When an offline scan can have happened: from doors opening until the upload."""

    opens: datetime
    closes: datetime

    @classmethod
    def for_event(
        cls, starts_at: datetime, doors_open_before: timedelta, uploaded_at: datetime
    ) -> ScanWindow:
        return cls(starts_at - doors_open_before, uploaded_at + CLOCK_SKEW)

    def __contains__(self, at: datetime) -> bool:
        return self.opens <= at <= self.closes


async def sync_check_ins(
    session: AsyncSession,
    signer: TicketSigner,
    event_id: int,
    scans: list[OfflineScan],
    actor: audit.Actor,
    doors_open_before: timedelta,
    *,
    now: datetime,
) -> list[ScanResult]:
    """Apply scans made offline, earliest first; the first scan of a ticket wins.

        A scan earlier than an existing check-in moves the check-in time back (it
        was the real admission); every other repeat is reported as DUPLICATE. A scan
        dated before the doors open or after the upload (beyond clock skew) cannot be
        real and would let a bad clock take a check-in over: it is REFUSED, unapplied.
    `now` is the upload's time (the request's instant).
        At most MAX_SCANS_PER_SYNC scans per call; more is refused whole.
    """
    if len(scans) > MAX_SCANS_PER_SYNC:
        raise ValidationFailed(
            f"at most {MAX_SCANS_PER_SYNC} scans per upload; send the rest in another call",
            field="scans",
        )
    starts_at = await ensure_door_access(session, event_id, actor)
    window = ScanWindow.for_event(starts_at, doors_open_before, now)
    results: dict[int, ScanResult] = {}
    for index, scan in sorted(enumerate(scans), key=lambda pair: pair[1].scanned_at):
        results[index] = await _apply_scan(session, signer, event_id, scan, actor, window)
    audit.record(
        session,
        actor,
        "ticket.sync",
        target_type="Event",
        target_id=event_id,
        details={
            "scans": len(scans),
            "accepted": sum(r.outcome == "ACCEPTED" for r in results.values()),
        },
    )
    await session.commit()
    return [results[i] for i in range(len(scans))]


async def _apply_scan(
    session: AsyncSession,
    signer: TicketSigner,
    event_id: int,
    scan: OfflineScan,
    actor: audit.Actor,
    window: ScanWindow,
) -> ScanResult:
    try:
        claims = signer.verify(scan.token)
    except InvalidToken:
        return ScanResult(scan.token, "INVALID", None, None)
    at = scan.scanned_at if scan.scanned_at.tzinfo else scan.scanned_at.replace(tzinfo=UTC)
    if claims.event_id != event_id:
        return ScanResult(scan.token, "WRONG_EVENT", None, None)  # nothing about that ticket
    if at not in window:
        return ScanResult(scan.token, "REFUSED", claims.ticket_id, None)
    if await _admit(session, claims.ticket_id, event_id, at, actor.user_id):
        return ScanResult(scan.token, "ACCEPTED", claims.ticket_id, at)
    missed = await _outcome_after_miss(session, claims.ticket_id, event_id)
    if missed.outcome in ("WRONG_EVENT", "INVALID"):
        return ScanResult(scan.token, missed.outcome, None, None)
    if missed.outcome != "ALREADY_USED" or missed.first_checked_in_at is None:
        outcome = "DUPLICATE" if missed.outcome == "ALREADY_USED" else missed.outcome
        return ScanResult(scan.token, outcome, claims.ticket_id, missed.first_checked_in_at)
    if at == missed.first_checked_in_at:  # this very scan, uploaded again after a lost answer
        return ScanResult(scan.token, "ACCEPTED", claims.ticket_id, at)
    if at < missed.first_checked_in_at and await _move_check_in_back(
        session, claims.ticket_id, at, actor.user_id
    ):
        return ScanResult(scan.token, "ACCEPTED", claims.ticket_id, at)
    return ScanResult(scan.token, "DUPLICATE", claims.ticket_id, missed.first_checked_in_at)


async def _move_check_in_back(
    session: AsyncSession, ticket_id: int, at: datetime, scanner_id: int | None
) -> bool:
    """First scan wins: an earlier offline scan takes the check-in over, time and scanner."""
    moved = await session.execute(
        update(Ticket)
        .where(col(Ticket.id) == ticket_id, col(Ticket.checked_in_at) > at)
        .values(checked_in_at=at, checked_in_by_id=scanner_id)
        .execution_options(synchronize_session=False)
    )
    return bool(moved.rowcount == 1)  # type: ignore[attr-defined]


async def export_tickets(session: AsyncSession, event_id: int) -> list[Ticket]:
    """Every ticket of an event with its status, for a scanner going offline."""
    rows = await session.scalars(
        select(Ticket).where(col(Ticket.event_id) == event_id).order_by(col(Ticket.id))
    )
    return list(rows.all())
