"""50 scanners at 4 worker processes present ONE ticket at the same moment: it admits once.

One conditional update (`... SET status = 'USED' WHERE id = :id AND status =
'VALID'`) is all that stands between a copied QR code and two admissions:
exactly one scan answers VALID, the other 49 ALREADY_USED with the winner's
check-in time, and the database holds one check-in by the winning scanner.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from datetime import datetime
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from tests.api.test_validate_ticket import VALIDATE, assign_staff
from tests.e2e.conftest import Database, ServerLauncher, graphql_client, register_customers
from tests.support.factories import create_event, reserve

pytestmark = pytest.mark.e2e

WORKERS = 4
SCANS = 50
SCANNERS = 10  # staff accounts, each scanning from several devices
# 4 workers x 5 pooled connections: well within PostgreSQL's default max_connections.
POOL_SIZE = 5

TICKETS_SQL = "SELECT id, status, checked_in_at, checked_in_by_id FROM tickets ORDER BY id"
AUDITED_SQL = "SELECT actor_id, details FROM audit_entries WHERE action = 'ticket.validate'"
STAFF_IDS_SQL = "SELECT id, email FROM users"


def scan_result(answer: httpx.Response | BaseException) -> dict[str, Any]:
    """The TicketValidation a scanner saw, or {"outcome": what went wrong}."""
    if isinstance(answer, BaseException):
        return {"outcome": f"exception {type(answer).__name__}"}
    if answer.status_code != 200:
        return {"outcome": f"HTTP {answer.status_code}"}
    body: dict[str, Any] = answer.json()
    if body.get("errors"):
        return {"outcome": f"top-level error: {body['errors'][0].get('message')}"}
    result: dict[str, Any] = body["data"]["validateTicket"]
    return result


def parse_time(value: Any) -> datetime:
    assert value is not None
    return datetime.fromisoformat(value) if isinstance(value, str) else value


async def test_fifty_simultaneous_scans_of_one_ticket_admit_it_exactly_once(
    start_server: ServerLauncher, database: Database
) -> None:
    server = await start_server(workers=WORKERS, db_pool_size=POOL_SIZE)
    async with graphql_client(server, connections=SCANS) as client:
        organizer = await client.register(organizer=True)
        event = await create_event(client, organizer, promoCodes=[])
        buyer = await client.register()
        order = (await reserve(client, buyer, event, {"Regular": 2}))["order"]
        token = order["tickets"][0]["qrToken"]
        scanners = await register_customers(client, SCANNERS)
        for scanner in scanners:
            await assign_staff(client, organizer, event, scanner)

        variables = {"eventId": event["id"], "token": token}
        started = time.perf_counter()
        answers = await asyncio.gather(
            *(client.post(VALIDATE, variables, scanners[n % SCANNERS].token) for n in range(SCANS)),
            return_exceptions=True,
        )
        elapsed = time.perf_counter() - started

    results = [scan_result(answer) for answer in answers]
    outcomes = Counter(result["outcome"] for result in results)
    print(f"\n{SCANS} scans of one ticket on {WORKERS} workers: {dict(outcomes)} in {elapsed:.2f}s")
    assert outcomes == {"VALID": 1, "ALREADY_USED": SCANS - 1}

    (winner,) = [n for n, result in enumerate(results) if result["outcome"] == "VALID"]
    admitted_at = parse_time(results[winner]["ticket"]["checkedInAt"])
    assert results[winner]["ticket"]["status"] == "USED"
    assert {
        parse_time(result["firstCheckedInAt"])
        for result in results
        if result["outcome"] == "ALREADY_USED"
    } == {admitted_at}

    async with database.session() as session:
        tickets = (await session.execute(text(TICKETS_SQL))).all()
        audited = (await session.execute(text(AUDITED_SQL))).all()
        users = dict((await session.execute(text(STAFF_IDS_SQL))).all())
        await session.rollback()
    by_email = {email: user_id for user_id, email in users.items()}
    winning_scanner = by_email[scanners[winner % SCANNERS].email]

    assert [(row[1], row[3]) for row in tickets] == [("USED", winning_scanner), ("VALID", None)]
    assert parse_time(tickets[0][2]).replace(tzinfo=None) == admitted_at.replace(tzinfo=None)
    assert sum(row[2] is not None for row in tickets) == 1  # one check-in in the database
    audited_outcomes = Counter(json.loads(details)["outcome"] for _actor, details in audited)
    assert audited_outcomes == {"VALID": 1, "ALREADY_USED": SCANS - 1}
    valid_scanners = [a for a, details in audited if json.loads(details)["outcome"] == "VALID"]
    assert valid_scanners == [winning_scanner]
