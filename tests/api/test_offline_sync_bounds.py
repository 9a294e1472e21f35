"""syncCheckIns takes at most 500 scans per call and only scans that can have happened.

The first scan of a ticket wins, so a scan's own date decides who was admitted:
a scanner with a wrong clock (or a forged upload) dated before the doors open,
or later than the upload itself, would otherwise take a check-in over. Such a
scan is answered REFUSED and changes nothing. Here the doors open one hour
before the event (EVENTHUB_DOORS_OPEN_BEFORE=3600), which starts in 30 minutes.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.settings import Settings
from tests.api.test_offline_sync import SYNC, scan, summary, sync
from tests.api.test_validate_ticket import Door, as_utc, open_door, stored_tickets, validate
from tests.conftest import make_settings
from tests.support.accounts import top_level_code
from tests.support.clock import SteppedClock
from tests.support.graphql import GraphQLClient

NOW = datetime.now(UTC).replace(microsecond=0)
STARTS_AT = NOW + timedelta(minutes=30)
DOORS_OPEN = STARTS_AT - timedelta(hours=1)


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return make_settings(database_url, tmp_path, doors_open_before=3600)


async def door_soon(client: GraphQLClient, seats: int = 2) -> Door:
    ends = (STARTS_AT + timedelta(hours=3)).isoformat()
    return await open_door(client, seats=seats, startsAt=STARTS_AT.isoformat(), endsAt=ends)


async def audited_syncs(session: AsyncSession) -> int:
    from sqlalchemy import text

    value = (
        await session.execute(
            text("SELECT COUNT(*) FROM audit_entries WHERE action = 'ticket.sync'")
        )
    ).scalar_one()
    await session.rollback()
    return int(value)


async def test_scans_dated_before_the_doors_open_or_after_the_upload_are_refused(
    client: GraphQLClient, session: AsyncSession
) -> None:
    door = await door_soon(client, 2)
    first, second = door.ticket_ids
    reports = await sync(
        client,
        door.event["id"],
        [
            scan(door.tokens[0], DOORS_OPEN - timedelta(minutes=1)),
            scan(door.tokens[1], datetime.now(UTC) + timedelta(minutes=6)),
        ],
        door.staff,
    )
    assert summary(reports) == [("REFUSED", first, None), ("REFUSED", second, None)]
    assert [row[1:3] for row in await stored_tickets(session)] == [("VALID", None)] * 2


async def test_scans_inside_the_window_are_accepted_up_to_its_edges(
    client: GraphQLClient, session: AsyncSession
) -> None:
    """Just after the doors open, and a scanner clock up to 5 minutes ahead, are real scans."""
    door = await door_soon(client, 2)
    early = DOORS_OPEN + timedelta(minutes=1)
    ahead = (datetime.now(UTC) + timedelta(minutes=4)).replace(microsecond=0)
    reports = await sync(
        client,
        door.event["id"],
        [scan(door.tokens[0], early), scan(door.tokens[1], ahead)],
        door.staff,
    )
    assert summary(reports) == [
        ("ACCEPTED", door.ticket_ids[0], early),
        ("ACCEPTED", door.ticket_ids[1], ahead),
    ]
    assert [row[1:3] for row in await stored_tickets(session)] == [("USED", early), ("USED", ahead)]


async def test_the_upload_time_is_the_apps_clock(
    client: GraphQLClient, session: AsyncSession, clock: SteppedClock
) -> None:
    """A scan dated 6 minutes ahead is refused now, and accepted once the clock has moved
    on 2 minutes: the window closes 5 minutes after the upload, by the app's clock."""
    door = await door_soon(client, 2)
    ahead = (clock.now() + timedelta(minutes=6)).replace(microsecond=0)
    refused = await sync(client, door.event["id"], [scan(door.tokens[0], ahead)], door.staff)
    clock.advance(120)
    accepted = await sync(client, door.event["id"], [scan(door.tokens[1], ahead)], door.staff)
    assert summary(refused) + summary(accepted) == [
        ("REFUSED", door.ticket_ids[0], None),
        ("ACCEPTED", door.ticket_ids[1], ahead),
    ]
    assert [row[1:3] for row in await stored_tickets(session)] == [("VALID", None), ("USED", ahead)]


async def test_a_refused_scan_never_takes_an_online_check_in_over(
    client: GraphQLClient, session: AsyncSession
) -> None:
    """'First scan wins' cannot be won by a scan dated before the doors opened."""
    door = await door_soon(client, 1)
    online = await validate(client, door.event["id"], door.tokens[0], door.staff)
    admitted = as_utc(online["ticket"]["checkedInAt"])
    before_doors = DOORS_OPEN - timedelta(hours=2)
    reports = await sync(
        client, door.event["id"], [scan(door.tokens[0], before_doors)], door.organizer
    )
    assert summary(reports) == [("REFUSED", door.ticket_ids[0], None)]
    assert [row[1:3] for row in await stored_tickets(session)] == [("USED", admitted)]


async def test_more_than_500_scans_are_refused_whole(
    client: GraphQLClient, session: AsyncSession
) -> None:
    door = await door_soon(client, 1)
    at = DOORS_OPEN + timedelta(minutes=2)
    too_many = [scan(door.tokens[0], at)] + [scan(f"junk-{n}", at) for n in range(500)]
    body = await client.execute(
        SYNC, {"eventId": door.event["id"], "scans": too_many}, door.staff.token
    )
    assert top_level_code(body) == "BAD_USER_INPUT"
    assert "500" in body["errors"][0]["message"]
    assert [row[1] for row in await stored_tickets(session)] == ["VALID"]
    assert await audited_syncs(session) == 0

    reports = await sync(client, door.event["id"], too_many[:500], door.staff)
    assert len(reports) == 500
    assert reports[0]["outcome"] == "ACCEPTED"
    assert {r["outcome"] for r in reports[1:]} == {"INVALID"}
    assert [row[1] for row in await stored_tickets(session)] == ["USED"]


def test_the_window_is_configured_by_eventhub_doors_open_before(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("EVENTHUB_DOORS_OPEN_BEFORE", "7200")
    assert make_settings("sqlite+aiosqlite:///x.db", tmp_path).doors_open_before == 7200
    monkeypatch.delenv("EVENTHUB_DOORS_OPEN_BEFORE")
    assert make_settings("sqlite+aiosqlite:///x.db", tmp_path).doors_open_before == 4 * 3600
