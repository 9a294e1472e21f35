"""Answers that must not tell a caller more than their job needs.

- validateTicket at one event, given a genuine ticket of another event, answers
  WRONG_EVENT and nothing else: not the ticket, its status or its check-in time.
- assignStaff answers the same whether or not the email has an account.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from tests.api.test_validate_ticket import VALIDATE, assign_staff, open_door
from tests.support.factories import create_event, reserve
from tests.support.graphql import GraphQLClient, make_admin

SYNC = """mutation($eventId: ID!, $scans: [OfflineScanInput!]!) {
  syncCheckIns(eventId: $eventId, scans: $scans) { token outcome ticketId firstCheckedInAt } }"""
ASSIGN = """mutation($id: ID!, $email: String!) {
  assignStaff(eventId: $id, email: $email) { user { id email roles } errors { code field } } }"""
REFUND = 'mutation($id: ID!) { refundOrder(id: $id, reason: "x") { errors { code } } }'


async def test_wrong_event_says_nothing_about_the_other_events_ticket(
    client: GraphQLClient,
) -> None:
    """A door at another organizer's event sees the same answer for a fresh, used or void ticket."""
    door = await open_door(client, seats=2)  # the event whose tickets are scanned elsewhere
    rival = await client.register(organizer=True)
    elsewhere = await create_event(client, rival, name="Elsewhere")
    await assign_staff(client, rival, elsewhere, door.staff)
    used = door.tokens[1]
    admitted = await client.data(
        VALIDATE, {"eventId": door.event["id"], "token": used}, door.staff.token
    )
    assert admitted["validateTicket"]["outcome"] == "VALID"
    refunded = await reserve(client, door.buyer, door.event, {"Regular": 1})
    void = refunded["order"]["tickets"][0]["qrToken"]
    assert (await client.data(REFUND, {"id": refunded["order"]["id"]}, door.organizer.token))[
        "refundOrder"
    ]["errors"] == []

    answers = []
    for token in (door.tokens[0], used, void):
        body = await client.data(
            VALIDATE, {"eventId": elsewhere["id"], "token": token}, door.staff.token
        )
        answers.append(body["validateTicket"])
    assert answers == [{"outcome": "WRONG_EVENT", "ticket": None, "firstCheckedInAt": None}] * 3

    at = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    scans = [{"token": t, "scannedAt": at} for t in (door.tokens[0], used, void)]
    reports = (
        await client.data(SYNC, {"eventId": elsewhere["id"], "scans": scans}, door.staff.token)
    )["syncCheckIns"]
    assert [(r["outcome"], r["ticketId"], r["firstCheckedInAt"]) for r in reports] == [
        ("WRONG_EVENT", None, None)
    ] * 3


async def test_assign_staff_answers_the_same_for_known_and_unknown_emails(
    app: Any, client: GraphQLClient
) -> None:
    organizer, helper = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    known = await client.execute(
        ASSIGN, {"id": event["id"], "email": helper.email}, organizer.token
    )
    unknown = await client.execute(
        ASSIGN, {"id": event["id"], "email": "nobody-here@example.com"}, organizer.token
    )
    assert known == unknown == {"data": {"assignStaff": {"user": None, "errors": []}}}
    # The known account did become staff there; the unknown email is audited for admins.
    assert "STAFF" in (await client.data("{ me { roles } }", token=helper.token))["me"]["roles"]
    admin = await make_admin(app, client)
    audit = """{ auditLog(action: "event.assign_staff_unknown") { totalCount } }"""
    assert (await client.data(audit, token=admin.token))["auditLog"]["totalCount"] == 1
