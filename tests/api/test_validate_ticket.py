"""validateTicket at the door: one admission per ticket, only for the event's door staff.

Outcomes: VALID (admitted now), ALREADY_USED (with when it was first admitted),
VOID (refunded or cancelled), WRONG_EVENT (a genuine ticket for another
event) and INVALID (anything whose signature does not verify: no database
write at all). Who may scan: staff assigned to the event, its organizer and
admins; everyone else is refused before the token is looked at.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.global_ids import decode_id
from eventhub.models import Order
from eventhub.services import audit, refunds
from eventhub.services.errors import AlreadyCheckedIn
from eventhub.services.ticket_tokens import TicketSigner
from tests.support.factories import create_event, reserve
from tests.support.graphql import Account, GraphQLClient, make_admin, make_staff
from tests.support.invariant import HoldingProvider

VALIDATE = """
mutation($eventId: ID!, $token: String!) {
  validateTicket(eventId: $eventId, token: $token) {
    outcome firstCheckedInAt ticket { id status checkedInAt event { id } }
  }
}"""
ASSIGN_STAFF = """
mutation($eventId: ID!, $email: String!) {
  assignStaff(eventId: $eventId, email: $email) { user { roles } errors { code message } }
}"""
REFUND = 'mutation($id: ID!) { refundOrder(id: $id, reason: "ill") { errors { code } } }'
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { errors { code } } }"
CANCEL_EVENT = "mutation($id: ID!) { cancelEvent(id: $id) { errors { code } } }"
AUDIT = """
query($action: String) { auditLog(action: $action, first: 100) {
  edges { node { action targetType targetId details actor { id } } } } }"""
STORED = "SELECT id, status, checked_in_at, checked_in_by_id FROM tickets ORDER BY id"


def pk(global_id: str, kind: str) -> int:
    value = decode_id(global_id, kind)
    assert value is not None, global_id
    return value


@dataclass
class Door:
    """An organizer's published event, one buyer's paid order, and staff assigned to scan."""

    organizer: Account
    buyer: Account
    staff: Account
    event: dict[str, Any]
    order: dict[str, Any]

    @property
    def tokens(self) -> list[str]:
        return [ticket["qrToken"] for ticket in self.order["tickets"]]

    @property
    def ticket_ids(self) -> list[str]:
        return [ticket["id"] for ticket in self.order["tickets"]]


async def assign_staff(
    client: GraphQLClient, organizer: Account, event: dict[str, Any], staff: Account
) -> None:
    variables = {"eventId": event["id"], "email": staff.email}
    payload = (await client.data(ASSIGN_STAFF, variables, organizer.token))["assignStaff"]
    assert payload == {"user": None, "errors": []}


async def open_door(client: GraphQLClient, seats: int = 2, **event: Any) -> Door:
    organizer, buyer, staff = (
        await client.register(organizer=True),
        await client.register(),
        await client.register(),
    )
    created = await create_event(client, organizer, **event)
    payload = await reserve(client, buyer, created, {"Regular": seats})
    assert payload["errors"] == []
    await assign_staff(client, organizer, created, staff)
    return Door(organizer, buyer, staff, created, payload["order"])


async def validate(
    client: GraphQLClient, event_id: str, token: str, who: Account | None
) -> dict[str, Any]:
    """The validateTicket payload, asserting there were no top-level errors."""
    variables = {"eventId": event_id, "token": token}
    result: dict[str, Any] = (await client.data(VALIDATE, variables, who.token if who else None))[
        "validateTicket"
    ]
    return result


async def refused(client: GraphQLClient, event_id: str, token: str, who: Account | None) -> str:
    """The extensions.code of a validateTicket that was refused."""
    body = await client.execute(
        VALIDATE, {"eventId": event_id, "token": token}, who.token if who else None
    )
    assert body["data"] is None, body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


def as_utc(value: datetime | str | None) -> datetime | None:
    """A stored time as an aware datetime (raw SQL on SQLite answers text)."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def stored_tickets(session: AsyncSession) -> list[tuple[Any, ...]]:
    """(id, status, checked_in_at, checked_in_by_id) of every ticket, as stored."""
    rows = [
        (row[0], row[1], as_utc(row[2]), row[3])
        for row in (await session.execute(text(STORED))).all()
    ]
    await session.rollback()  # SQLite: never keep the write lock the app needs
    return rows


async def count_rows(session: AsyncSession, table: str) -> int:
    count = int((await session.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one())
    await session.rollback()
    return count


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def at(value: str | None) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value)


# --- outcomes ----------------------------------------------------------------------------------


async def test_a_ticket_is_admitted_once_and_then_reported_already_used(
    client: GraphQLClient, session: AsyncSession
) -> None:
    door = await open_door(client)
    first = await validate(client, door.event["id"], door.tokens[0], door.staff)
    assert first["outcome"] == "VALID"
    assert first["firstCheckedInAt"] is None
    assert (first["ticket"]["id"], first["ticket"]["status"]) == (door.ticket_ids[0], "USED")
    assert first["ticket"]["event"]["id"] == door.event["id"]
    admitted_at = at(first["ticket"]["checkedInAt"])

    again = await validate(client, door.event["id"], door.tokens[0], door.organizer)
    assert again["outcome"] == "ALREADY_USED"
    assert at(again["firstCheckedInAt"]) == admitted_at
    assert (again["ticket"]["status"], at(again["ticket"]["checkedInAt"])) == ("USED", admitted_at)

    (used, untouched) = await stored_tickets(session)
    assert used[:2] == (pk(door.ticket_ids[0], "Ticket"), "USED")
    assert used[2] == admitted_at
    assert used[3] == pk(door.staff.id, "User")  # the first scanner, not the second
    assert untouched[1:] == ("VALID", None, None)


@pytest.mark.parametrize("how", ["refundOrder", "cancelOrder", "cancelEvent"])
async def test_a_ticket_of_a_refunded_or_cancelled_order_is_void_and_not_admitted(
    client: GraphQLClient, session: AsyncSession, how: str
) -> None:
    door = await open_door(client)
    if how == "refundOrder":
        result = await client.data(REFUND, {"id": door.order["id"]}, door.organizer.token)
    elif how == "cancelOrder":
        result = await client.data(CANCEL, {"id": door.order["id"]}, door.buyer.token)
    else:
        result = await client.data(CANCEL_EVENT, {"id": door.event["id"]}, door.organizer.token)
    assert next(iter(result.values()))["errors"] == []

    answer = await validate(client, door.event["id"], door.tokens[0], door.staff)
    assert answer["outcome"] == "VOID"
    assert answer["firstCheckedInAt"] is None
    assert (answer["ticket"]["id"], answer["ticket"]["status"]) == (door.ticket_ids[0], "VOID")
    assert answer["ticket"]["checkedInAt"] is None
    assert [row[1:] for row in await stored_tickets(session)] == [("VOID", None, None)] * 2


async def test_a_ticket_for_another_event_is_wrong_event_and_still_admits_at_its_own(
    client: GraphQLClient, session: AsyncSession
) -> None:
    door = await open_door(client)
    other = await create_event(client, door.organizer, name="Other Night")
    await assign_staff(client, door.organizer, other, door.staff)

    wrong = await validate(client, other["id"], door.tokens[0], door.staff)
    assert wrong["outcome"] == "WRONG_EVENT"
    assert wrong["ticket"] is None  # nothing about the other event's ticket (tests/security)
    assert [row[1] for row in await stored_tickets(session)] == ["VALID", "VALID"]

    right = await validate(client, door.event["id"], door.tokens[0], door.staff)
    assert right["outcome"] == "VALID"


def forged_ticket_id(token: str) -> str:
    """The next ticket's id spliced under this ticket's (valid) signature."""
    raw = bytearray(unb64(token))
    raw[5:13] = (int.from_bytes(raw[5:13], "big") + 1).to_bytes(8, "big")
    return b64(bytes(raw))


def flipped_signature(token: str) -> str:
    raw = bytearray(unb64(token))
    raw[-1] ^= 0x01
    return b64(bytes(raw))


def unknown_key(token: str) -> str:
    """The same ticket and event, properly signed, by a key the server never had."""
    raw = unb64(token)
    stranger = TicketSigner(Ed25519PrivateKey.generate())
    return stranger.sign(int.from_bytes(raw[5:13], "big"), int.from_bytes(raw[13:21], "big"))


BAD_TOKENS = {
    "forged ticket id": forged_ticket_id,
    "flipped signature byte": flipped_signature,
    "truncated": lambda token: token[:-10],
    "cut in half": lambda token: token[: len(token) // 2],
    "unknown key": unknown_key,
    "empty": lambda token: "",
    "garbage": lambda token: "not a ticket at all",
    "huge": lambda token: token * 50,
}


async def test_a_token_that_does_not_verify_is_invalid_and_writes_nothing(
    client: GraphQLClient, session: AsyncSession
) -> None:
    door = await open_door(client)
    tickets_before = await stored_tickets(session)
    audit_before = await count_rows(session, "audit_entries")

    for kind, tamper in BAD_TOKENS.items():
        answer = await validate(client, door.event["id"], tamper(door.tokens[0]), door.staff)
        assert answer == {"outcome": "INVALID", "firstCheckedInAt": None, "ticket": None}, kind
        assert await stored_tickets(session) == tickets_before, kind
        assert await count_rows(session, "audit_entries") == audit_before, kind

    genuine = await validate(client, door.event["id"], door.tokens[0], door.staff)
    assert genuine["outcome"] == "VALID"  # the real ticket was not touched


async def test_a_genuine_signature_for_a_ticket_that_does_not_exist_is_invalid(
    app: Any, client: GraphQLClient, session: AsyncSession
) -> None:
    door = await open_door(client)
    signer: TicketSigner = app.state.eventhub.signer
    token = signer.sign(987_654, pk(door.event["id"], "Event"))
    answer = await validate(client, door.event["id"], token, door.staff)
    assert answer == {"outcome": "INVALID", "firstCheckedInAt": None, "ticket": None}
    assert [row[1] for row in await stored_tickets(session)] == ["VALID", "VALID"]


# --- who may scan ------------------------------------------------------------------------------


@pytest.mark.parametrize("who", ["assigned staff", "organizer", "admin"])
async def test_assigned_staff_the_organizer_and_admins_may_validate(
    app: Any, client: GraphQLClient, session: AsyncSession, who: str
) -> None:
    door = await open_door(client)
    scanner = {
        "assigned staff": door.staff,
        "organizer": door.organizer,
        "admin": await make_admin(app, client),
    }[who]
    answer = await validate(client, door.event["id"], door.tokens[1], scanner)
    assert (answer["outcome"], answer["ticket"]["id"]) == ("VALID", door.ticket_ids[1])
    stored = await stored_tickets(session)
    assert (stored[1][1], stored[1][3]) == ("USED", pk(scanner.id, "User"))


async def test_anyone_else_is_refused_and_the_ticket_stays_valid(
    app: Any, client: GraphQLClient, session: AsyncSession
) -> None:
    door = await open_door(client)
    other_organizer = await client.register(organizer=True)
    other_event = await create_event(client, other_organizer, name="Elsewhere")
    other_staff = await client.register()
    await assign_staff(client, other_organizer, other_event, other_staff)
    refused_scanners: dict[str, tuple[Account | None, str]] = {
        "staff of another event": (other_staff, "FORBIDDEN"),
        "staff of no event": (
            await make_staff(app, client, await make_admin(app, client)),
            "FORBIDDEN",
        ),
        "organizer of another event": (other_organizer, "FORBIDDEN"),
        "the buyer": (door.buyer, "FORBIDDEN"),
        "another customer": (await client.register(), "FORBIDDEN"),
        "anonymous": (None, "UNAUTHENTICATED"),
    }

    for who, (scanner, code) in refused_scanners.items():
        assert await refused(client, door.event["id"], door.tokens[0], scanner) == code, who
    assert [row[1:] for row in await stored_tickets(session)] == [("VALID", None, None)] * 2
    admitted = await validate(client, door.event["id"], door.tokens[0], door.staff)
    assert admitted["outcome"] == "VALID"


# --- after entry: no refund for the buyer -----------------------------------------------------

ORDER_STATE = "query($id: ID!) { order(id: $id) { status tickets { status } event { sold } } }"
ADMIN_REFUND = """mutation($id: ID!, $reason: String) { refundOrder(id: $id, reason: $reason) {
  order { status tickets { status } event { sold } } errors { code field } } }"""


async def entered(client: GraphQLClient) -> Door:
    """A paid order for two seats, one of them already admitted at the door."""
    door = await open_door(client)
    assert (await validate(client, door.event["id"], door.tokens[0], door.staff))["outcome"] == (
        "VALID"
    )
    return door


async def order_audit(client: GraphQLClient, admin: Account, door: Door) -> list[dict[str, Any]]:
    log = (await client.data(AUDIT, {"action": None}, admin.token))["auditLog"]["edges"]
    order_pk = str(pk(door.order["id"], "Order"))
    return [e["node"] for e in log if (e["node"]["targetType"], e["node"]["targetId"]) == (
        "Order", order_pk)]  # fmt: skip


async def test_a_buyer_cannot_cancel_an_order_once_a_ticket_was_checked_in(
    app: Any, client: GraphQLClient, session: AsyncSession
) -> None:
    door = await entered(client)
    admin = await make_admin(app, client)
    audit_before = await order_audit(client, admin, door)

    result = await client.data(CANCEL, {"id": door.order["id"]}, door.buyer.token)
    by_organizer = await client.data(REFUND, {"id": door.order["id"]}, door.organizer.token)

    assert result["cancelOrder"]["errors"] == [{"code": "ALREADY_CHECKED_IN"}]
    assert by_organizer["refundOrder"]["errors"] == [{"code": "ALREADY_CHECKED_IN"}]
    state = (await client.data(ORDER_STATE, {"id": door.order["id"]}, door.buyer.token))["order"]
    assert state == {
        "status": "PAID",
        "tickets": [{"status": "USED"}, {"status": "VALID"}],
        "event": {"sold": 2},
    }
    assert [row[1] for row in await stored_tickets(session)] == ["USED", "VALID"]
    assert await order_audit(client, admin, door) == audit_before


async def test_an_admin_may_refund_an_order_after_entry_with_a_reason_audited(
    app: Any, client: GraphQLClient
) -> None:
    door = await entered(client)
    admin = await make_admin(app, client)

    no_reason = await client.data(ADMIN_REFUND, {"id": door.order["id"]}, admin.token)
    assert no_reason["refundOrder"]["errors"] == [{"code": "VALIDATION", "field": "reason"}]
    variables = {"id": door.order["id"], "reason": "show stopped after the first act"}
    result = (await client.data(ADMIN_REFUND, variables, admin.token))["refundOrder"]

    assert result["errors"] == []
    assert result["order"] == {
        "status": "REFUNDED",
        "tickets": [{"status": "VOID"}] * 2,
        "event": {"sold": 0},
    }
    [refund] = [e for e in await order_audit(client, admin, door) if e["action"] == "order.refund"]
    details = json.loads(refund["details"])
    assert (details["reason"], details["checked_in"]) == ("show stopped after the first act", 1)
    assert refund["actor"]["id"] == admin.id


# --- the audit trail ---------------------------------------------------------------------------


async def test_every_validation_is_audited_with_its_outcome(
    app: Any, client: GraphQLClient
) -> None:
    door = await open_door(client, seats=3)
    other = await create_event(client, door.organizer, name="Other Night")
    await assign_staff(client, door.organizer, other, door.staff)
    refund = await client.data(
        REFUND, {"id": (await reserve(client, door.buyer, door.event, {"VIP": 1}))["order"]["id"]},
        door.organizer.token,
    )  # fmt: skip
    assert refund["refundOrder"]["errors"] == []
    void_ticket = await stored_void_token(app, door)
    no_such_ticket = app.state.eventhub.signer.sign(987_654, pk(door.event["id"], "Event"))

    scans = [
        (door.event["id"], door.tokens[0], door.staff, "VALID"),
        (door.event["id"], door.tokens[0], door.organizer, "ALREADY_USED"),
        (door.event["id"], void_ticket, door.staff, "VOID"),
        (other["id"], door.tokens[1], door.staff, "WRONG_EVENT"),
        (door.event["id"], no_such_ticket, door.staff, "INVALID"),  # signed: reaches the DB
    ]
    for event_id, token, scanner, outcome in scans:
        assert (await validate(client, event_id, token, scanner))["outcome"] == outcome
    stranger = await client.register(organizer=True)  # passes the role check, not the event's
    assert await refused(client, door.event["id"], door.tokens[2], stranger) == "FORBIDDEN"

    admin = await make_admin(app, client)
    log = (await client.data(AUDIT, {"action": "ticket.validate"}, admin.token))["auditLog"]
    entries = [edge["node"] for edge in reversed(log["edges"])]  # oldest first
    seen = [
        (
            entry["targetType"],
            entry["targetId"],
            entry["actor"]["id"],
            json.loads(entry["details"])["outcome"],
        )
        for entry in entries
    ]
    assert seen == [
        ("Ticket", str(unb64_ticket(token)), scanner.id, outcome)
        for _event, token, scanner, outcome in scans
    ]
    denied = (await client.data(AUDIT, {"action": "ticket.validate_denied"}, admin.token))[
        "auditLog"
    ]["edges"]
    assert [(e["node"]["actor"]["id"], e["node"]["targetType"]) for e in denied] == [
        (stranger.id, "Event")
    ]


def unb64_ticket(token: str) -> int:
    return int.from_bytes(unb64(token)[5:13], "big")


async def stored_void_token(app: Any, door: Door) -> str:
    """The qrToken of the VOID ticket (signed the way the API signs it)."""
    async with app.state.eventhub.session_factory() as db:
        row = (
            await db.execute(
                text("SELECT id, event_id FROM tickets WHERE status = 'VOID' ORDER BY id")
            )
        ).one()
        await db.rollback()
    signer: TicketSigner = app.state.eventhub.signer
    return signer.sign(int(row[0]), int(row[1]))


async def test_a_scan_just_before_the_refund_claim_still_stops_the_buyer_refund(
    app: Any, client: GraphQLClient, session: AsyncSession
) -> None:
    """The check-in lands after cancelOrder's first look but before its claim: the claim
    itself refuses, so the provider is never asked and the admitted ticket stays USED."""
    door = await entered(client)
    provider = HoldingProvider()
    order_pk = pk(door.order["id"], "Order")
    buyer = audit.Actor(pk(door.buyer.id, "User"), None, frozenset({"CUSTOMER"}))
    async with app.state.eventhub.session_factory() as own:
        order = await own.get(Order, order_pk)
        assert order is not None
        with pytest.raises(AlreadyCheckedIn):
            await refunds.refund_paid(
                own, order, buyer, provider, "order.cancel_refund", None, before_entry=True
            )
    assert provider.refunded == []
    assert [row[1] for row in await stored_tickets(session)] == ["USED", "VALID"]
