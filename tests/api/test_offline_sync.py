"""Scanners that lost the network: verify offline with the JWKS, upload scans later.

syncCheckIns applies uploaded scans earliest first: the first scan of a
ticket wins (its time becomes the check-in time), every later scan of it is
a DUPLICATE, void and wrong-event tickets are reported as such, and
uploading the same batch again changes nothing. ticketVerificationKeys is
all a scanner needs to check signatures with `cryptography` alone.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy.ext.asyncio import AsyncSession

from tests.api.test_validate_ticket import (
    REFUND,
    Door,
    as_utc,
    assign_staff,
    flipped_signature,
    open_door,
    pk,
    stored_tickets,
    unknown_key,
    validate,
)
from tests.support.factories import create_event, reserve
from tests.support.graphql import Account, GraphQLClient, make_admin

SYNC = """
mutation($eventId: ID!, $scans: [OfflineScanInput!]!) {
  syncCheckIns(eventId: $eventId, scans: $scans) { token outcome ticketId firstCheckedInAt }
}"""
KEYS = "{ ticketVerificationKeys }"
AUDIT = """query { auditLog(action: "ticket.sync", first: 10) {
  edges { node { targetType targetId details actor { id } } } } }"""
DOORS_OPEN = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
STARTS_AT = DOORS_OPEN + timedelta(hours=3)  # doors opened an hour before these scans began


def minute(n: int) -> datetime:
    return DOORS_OPEN + timedelta(minutes=n)


def scan(token: str, at: datetime) -> dict[str, str]:
    return {"token": token, "scannedAt": at.isoformat()}


async def sync(
    client: GraphQLClient, event_id: str, scans: list[dict[str, str]], who: Account
) -> list[dict[str, Any]]:
    variables = {"eventId": event_id, "scans": scans}
    reports: list[dict[str, Any]] = (await client.data(SYNC, variables, who.token))["syncCheckIns"]
    assert [r["token"] for r in reports] == [s["token"] for s in scans]  # in upload order
    return reports


def summary(reports: list[dict[str, Any]]) -> list[tuple[str, str | None, datetime | None]]:
    """(outcome, ticketId, firstCheckedInAt) of each report."""
    return [(r["outcome"], r["ticketId"], as_utc(r["firstCheckedInAt"])) for r in reports]


async def door_with(client: GraphQLClient, seats: int) -> Door:
    """An event starting soon whose buyer holds `seats` paid tickets, and its door staff."""
    starts = STARTS_AT.isoformat()
    ends = (STARTS_AT + timedelta(hours=4)).isoformat()
    return await open_door(client, seats=seats, startsAt=starts, endsAt=ends)


# --- uploading scans ---------------------------------------------------------------------------


async def test_uploaded_scans_check_tickets_in_at_the_time_they_were_scanned(
    client: GraphQLClient, session: AsyncSession
) -> None:
    door = await door_with(client, 3)
    reports = await sync(
        client,
        door.event["id"],
        [scan(door.tokens[0], minute(4)), scan(door.tokens[1], minute(2))],
        door.staff,
    )
    assert summary(reports) == [
        ("ACCEPTED", door.ticket_ids[0], minute(4)),
        ("ACCEPTED", door.ticket_ids[1], minute(2)),
    ]
    staff = pk(door.staff.id, "User")
    assert [row[1:] for row in await stored_tickets(session)] == [
        ("USED", minute(4), staff),
        ("USED", minute(2), staff),
        ("VALID", None, None),
    ]
    online = await validate(client, door.event["id"], door.tokens[0], door.organizer)
    assert (online["outcome"], as_utc(online["firstCheckedInAt"])) == ("ALREADY_USED", minute(4))


async def test_the_earliest_scan_wins_whatever_order_the_scans_arrive_in(
    client: GraphQLClient, session: AsyncSession
) -> None:
    door = await door_with(client, 1)
    token, ticket = door.tokens[0], door.ticket_ids[0]
    reports = await sync(
        client,
        door.event["id"],
        [scan(token, minute(9)), scan(token, minute(1)), scan(token, minute(5))],
        door.staff,
    )
    assert summary(reports) == [
        ("DUPLICATE", ticket, minute(1)),
        ("ACCEPTED", ticket, minute(1)),
        ("DUPLICATE", ticket, minute(1)),
    ]
    assert [row[1:3] for row in await stored_tickets(session)] == [("USED", minute(1))]


async def test_a_later_upload_of_an_earlier_scan_moves_the_check_in_back(
    client: GraphQLClient, session: AsyncSession
) -> None:
    """Door A uploads first, door B later; B's scan was the first, so B's scan wins."""
    door = await door_with(client, 1)
    token, ticket = door.tokens[0], door.ticket_ids[0]
    first_upload = await sync(client, door.event["id"], [scan(token, minute(7))], door.staff)
    assert summary(first_upload) == [("ACCEPTED", ticket, minute(7))]

    second_upload = await sync(client, door.event["id"], [scan(token, minute(3))], door.organizer)
    assert summary(second_upload) == [("ACCEPTED", ticket, minute(3))]
    late = await sync(client, door.event["id"], [scan(token, minute(5))], door.staff)
    assert summary(late) == [("DUPLICATE", ticket, minute(3))]
    assert [row[1:3] for row in await stored_tickets(session)] == [("USED", minute(3))]


async def test_the_check_in_is_credited_to_whoever_made_the_winning_scan(
    client: GraphQLClient, session: AsyncSession
) -> None:
    door = await door_with(client, 1)
    token = door.tokens[0]
    await sync(client, door.event["id"], [scan(token, minute(7))], door.staff)
    await sync(client, door.event["id"], [scan(token, minute(3))], door.organizer)
    assert [row[1:] for row in await stored_tickets(session)] == [
        ("USED", minute(3), pk(door.organizer.id, "User"))
    ]


async def test_a_scan_of_a_ticket_already_admitted_online_is_a_duplicate(
    client: GraphQLClient, session: AsyncSession
) -> None:
    door = await door_with(client, 1)
    online = await validate(client, door.event["id"], door.tokens[0], door.staff)
    assert online["outcome"] == "VALID"
    admitted = as_utc(online["ticket"]["checkedInAt"])
    assert admitted is not None

    later = admitted + timedelta(minutes=3)  # within the 5 minutes a scanner clock may run ahead
    reports = await sync(client, door.event["id"], [scan(door.tokens[0], later)], door.organizer)
    assert summary(reports) == [("DUPLICATE", door.ticket_ids[0], admitted)]
    assert [row[1:] for row in await stored_tickets(session)] == [
        ("USED", admitted, pk(door.staff.id, "User"))
    ]


async def test_void_wrong_event_and_forged_scans_are_reported_and_change_nothing(
    client: GraphQLClient, session: AsyncSession
) -> None:
    door = await door_with(client, 1)
    refunded = (await reserve(client, door.buyer, door.event, {"VIP": 1}))["order"]
    refund = await client.data(REFUND, {"id": refunded["id"]}, door.organizer.token)
    assert refund["refundOrder"]["errors"] == []
    void_ticket = refunded["tickets"][0]
    other = await create_event(client, door.organizer, name="Other Night")
    elsewhere = (await reserve(client, door.buyer, other, {"Regular": 1}))["order"]["tickets"][0]
    before = await stored_tickets(session)

    scans = [
        scan(void_ticket["qrToken"], minute(1)),
        scan(elsewhere["qrToken"], minute(2)),
        scan(flipped_signature(door.tokens[0]), minute(3)),
        scan(unknown_key(door.tokens[0]), minute(4)),
        scan("", minute(5)),
        scan(door.tokens[0], minute(6)),
    ]
    reports = await sync(client, door.event["id"], scans, door.staff)
    assert summary(reports) == [
        ("VOID", void_ticket["id"], None),
        ("WRONG_EVENT", None, None),  # the other event's ticket id is not this door's
        ("INVALID", None, None),
        ("INVALID", None, None),
        ("INVALID", None, None),
        ("ACCEPTED", door.ticket_ids[0], minute(6)),
    ]
    after = await stored_tickets(session)
    assert after[0][1:3] == ("USED", minute(6))
    assert after[1:] == before[1:]  # the void and the other event's ticket are untouched


async def test_uploading_the_same_batch_again_changes_nothing_and_answers_the_same(
    app: Any, client: GraphQLClient, session: AsyncSession
) -> None:
    door = await door_with(client, 3)
    batch = [
        scan(door.tokens[0], minute(3)),
        scan(door.tokens[1], minute(1)),
        scan(door.tokens[0], minute(2)),
        scan(flipped_signature(door.tokens[2]), minute(4)),
    ]
    first = summary(await sync(client, door.event["id"], batch, door.staff))
    assert first == [
        ("DUPLICATE", door.ticket_ids[0], minute(2)),
        ("ACCEPTED", door.ticket_ids[1], minute(1)),
        ("ACCEPTED", door.ticket_ids[0], minute(2)),
        ("INVALID", None, None),
    ]
    stored = await stored_tickets(session)

    second = summary(await sync(client, door.event["id"], batch, door.staff))
    assert await stored_tickets(session) == stored
    assert second == first  # a scanner retrying a lost answer sees its own admissions again

    admin = await make_admin(app, client)
    log = (await client.data(AUDIT, token=admin.token))["auditLog"]["edges"]
    assert [
        (e["node"]["targetId"], e["node"]["actor"]["id"], json.loads(e["node"]["details"])["scans"])
        for e in log
    ] == [(str(pk(door.event["id"], "Event")), door.staff.id, 4)] * 2


@pytest.mark.parametrize("who", ["customer", "staff of another event", "anonymous"])
async def test_only_the_events_door_staff_may_upload(
    client: GraphQLClient, session: AsyncSession, who: str
) -> None:
    door = await door_with(client, 1)
    headers: dict[str, str] = {}
    if who == "customer":
        headers = {"authorization": f"Bearer {door.buyer.token}"}
    elif who == "staff of another event":
        other = await create_event(client, door.organizer, name="Other Night")
        staff = await client.register()
        await assign_staff(client, door.organizer, other, staff)
        headers = {"authorization": f"Bearer {staff.token}"}
    variables = {"eventId": door.event["id"], "scans": [scan(door.tokens[0], minute(1))]}
    response = await client.http.post(
        "/graphql", json={"query": SYNC, "variables": variables}, headers=headers
    )
    code = response.json()["errors"][0]["extensions"]["code"]
    assert code == ("UNAUTHENTICATED" if who == "anonymous" else "FORBIDDEN")
    assert [row[1] for row in await stored_tickets(session)] == ["VALID"]


# --- verifying offline -------------------------------------------------------------------------


def unb64(value: str) -> bytes:
    return base64.urlsafe_b64decode(value + "=" * (-len(value) % 4))


def verify_offline(jwks: dict[str, Any], token: str) -> tuple[int, int]:
    """What a scanner app does with nothing but the JWKS: (ticket pk, event pk), or raises."""
    raw = unb64(token)
    if len(raw) != 85 or raw[0] != 1:
        raise ValueError("not a version-1 ticket token")
    kid = base64.urlsafe_b64encode(raw[1:5]).decode().rstrip("=")
    matching = [jwk for jwk in jwks["keys"] if jwk["kid"] == kid]
    if not matching:
        raise LookupError(f"no key {kid}")
    (jwk,) = matching
    assert (jwk["kty"], jwk["crv"]) == ("OKP", "Ed25519")
    Ed25519PublicKey.from_public_bytes(unb64(jwk["x"])).verify(raw[21:], raw[:21])
    return int.from_bytes(raw[5:13], "big"), int.from_bytes(raw[13:21], "big")


async def test_the_published_keys_verify_tickets_offline_with_cryptography_alone(
    client: GraphQLClient,
) -> None:
    door = await door_with(client, 2)
    jwks = json.loads((await client.data(KEYS))["ticketVerificationKeys"])  # no sign-in needed
    assert [(k["kty"], k["crv"], k["alg"]) for k in jwks["keys"]] == [("OKP", "Ed25519", "EdDSA")]
    assert all("d" not in k for k in jwks["keys"])

    event = pk(door.event["id"], "Event")
    for ticket, token in zip(door.ticket_ids, door.tokens, strict=True):
        assert verify_offline(jwks, token) == (pk(ticket, "Ticket"), event)
    with pytest.raises(InvalidSignature):
        verify_offline(jwks, flipped_signature(door.tokens[0]))
    with pytest.raises(LookupError):
        verify_offline(jwks, unknown_key(door.tokens[0]))
