"""Root fields for door staff: validateTicket and syncCheckIns."""

from __future__ import annotations

from datetime import datetime
from enum import Enum

import strawberry
from strawberry.types import Info

from eventhub.global_ids import encode_id
from eventhub.resolvers import door as door_resolvers
from eventhub.schema.order_types import Ticket
from eventhub.schema.permissions import requires_role
from eventhub.schema.roles import Role
from eventhub.services import door

DOOR = (Role.STAFF, Role.ORGANIZER, Role.ADMIN)


@strawberry.enum
class ValidationOutcome(Enum):
    VALID = "VALID"
    ALREADY_USED = "ALREADY_USED"
    VOID = "VOID"
    WRONG_EVENT = "WRONG_EVENT"
    INVALID = "INVALID"


@strawberry.enum
class ScanOutcome(Enum):
    ACCEPTED = "ACCEPTED"
    DUPLICATE = "DUPLICATE"
    VOID = "VOID"
    WRONG_EVENT = "WRONG_EVENT"
    INVALID = "INVALID"
    REFUSED = strawberry.enum_value(
        "REFUSED",
        description="scannedAt is before the doors open (EVENTHUB_DOORS_OPEN_BEFORE ahead of "
        "startsAt) or more than 5 minutes after the upload: not applied",
    )


@strawberry.type
class TicketValidation:
    outcome: ValidationOutcome
    ticket: Ticket | None = strawberry.field(description="null for INVALID")
    first_checked_in_at: datetime | None = strawberry.field(description="set for ALREADY_USED")

    @classmethod
    def of(cls, result: door.Validation) -> TicketValidation:
        ticket = Ticket.from_row(result.ticket) if result.ticket else None
        return cls(
            outcome=ValidationOutcome(result.outcome),
            ticket=ticket,
            first_checked_in_at=result.first_checked_in_at,
        )


@strawberry.input
class OfflineScanInput:
    token: str
    scanned_at: datetime


@strawberry.type
class ScanReport:
    token: str
    outcome: ScanOutcome
    ticket_id: strawberry.ID | None
    first_checked_in_at: datetime | None = strawberry.field(
        description="when the winning (first) scan admitted the ticket"
    )


@strawberry.type
class DoorMutation:
    @strawberry.mutation(extensions=requires_role(*DOOR))
    async def validate_ticket(
        self, info: Info, event_id: strawberry.ID, token: str
    ) -> TicketValidation:
        return TicketValidation.of(await door_resolvers.validate(info.context, event_id, token))

    @strawberry.mutation(
        extensions=requires_role(*DOOR),
        description="uploads scans made offline (at most 500 per call); "
        "the first scan of a ticket wins",
    )
    async def sync_check_ins(
        self, info: Info, event_id: strawberry.ID, scans: list[OfflineScanInput]
    ) -> list[ScanReport]:
        data = [door.OfflineScan(s.token, s.scanned_at) for s in scans]
        results = await door_resolvers.sync(info.context, event_id, data)
        return [
            ScanReport(
                token=r.token,
                outcome=ScanOutcome(r.outcome),
                ticket_id=strawberry.ID(encode_id("Ticket", r.ticket_id)) if r.ticket_id else None,
                first_checked_in_at=r.first_checked_in_at,
            )
            for r in results
        ]
