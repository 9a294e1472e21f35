"""There is always an active admin: the last one cannot deactivate itself or drop its
own ADMIN role (CONFLICT), not even when two admins step down at the same moment.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import text

from eventhub.global_ids import decode_id
from eventhub.services import audit, users
from eventhub.services.errors import Conflict
from tests.support.graphql import Account, GraphQLClient, make_admin

DEACTIVATE = """mutation($id: ID!) { deactivateUser(userId: $id) {
  user { id } errors { code field message } } }"""
SET_ROLES = """mutation($id: ID!, $roles: [Role!]!) { setUserRoles(userId: $id, roles: $roles) {
  user { roles } errors { code field } } }"""


def codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


async def step_down(client: GraphQLClient, admin: Account) -> list[tuple[str, str | None]]:
    body = await client.data(DEACTIVATE, {"id": admin.id}, admin.token)
    return codes(body["deactivateUser"])


async def test_the_last_admin_keeps_its_role_and_its_account(
    app: Any, client: GraphQLClient
) -> None:
    admin = await make_admin(app, client)
    assert await step_down(client, admin) == [("CONFLICT", "userId")]
    demoted = await client.data(SET_ROLES, {"id": admin.id, "roles": ["CUSTOMER"]}, admin.token)
    assert codes(demoted["setUserRoles"]) == [("CONFLICT", "userId")]
    kept = await client.data(SET_ROLES, {"id": admin.id, "roles": ["ADMIN", "STAFF"]}, admin.token)
    assert kept["setUserRoles"] == {"user": {"roles": ["STAFF", "ADMIN"]}, "errors": []}

    other = await make_admin(app, client)
    assert await step_down(client, admin) == []  # another admin remains
    assert await step_down(client, other) == [("CONFLICT", "userId")]  # now the last one
    me = await client.data("{ me { roles } }", token=other.token)
    assert "ADMIN" in me["me"]["roles"]


async def test_two_admins_stepping_down_at_once_leave_one(app: Any, client: GraphQLClient) -> None:
    """The first holds its transaction open at commit; the second must wait for it and lose.

    Without the row locks the second would not see the first's uncommitted change,
    count one other admin and succeed, leaving none.
    """
    first, second = await make_admin(app, client), await make_admin(app, client)
    state = app.state.eventhub
    at_commit, gate = asyncio.Event(), asyncio.Event()
    async with state.session_factory() as one, state.session_factory() as two:
        commit = one.commit

        async def held_commit() -> None:
            at_commit.set()
            await gate.wait()
            await commit()

        one.commit = held_commit  # type: ignore[method-assign]
        ids = [decode_id(a.id, "User") for a in (first, second)]
        actors = [audit.Actor(pk, None, frozenset({"ADMIN"})) for pk in ids]
        leaving = asyncio.create_task(users.deactivate(one, ids[0], actors[0]))
        await at_commit.wait()  # the first holds its locks, its change not yet committed
        racing = asyncio.create_task(users.deactivate(two, ids[1], actors[1]))
        await _until_blocked_or_done(state, racing)
        gate.set()
        await leaving
        outcome = await asyncio.gather(racing, return_exceptions=True)
    assert isinstance(outcome[0], Conflict), outcome
    assert await _active_admins(state) == [ids[1]]


async def _until_blocked_or_done(state: Any, task: asyncio.Task[Any]) -> None:
    """PostgreSQL: until the task waits for a row lock (counted in pg_locks), or finished.

    SQLite: its BEGIN IMMEDIATE waits in a thread for the first's write lock; nothing
    to count there, so the task only gets the loop long enough to start.
    """
    if state.settings.is_sqlite:
        for _ in range(50):
            await asyncio.sleep(0)
        return
    async with state.session_factory() as probe:
        while not task.done():
            waiting = await probe.scalar(text("SELECT count(*) FROM pg_locks WHERE NOT granted"))
            await probe.rollback()
            if waiting:
                return
            await asyncio.sleep(0.01)


async def _active_admins(state: Any) -> list[int]:
    async with state.session_factory() as session:
        rows = await session.execute(
            text("SELECT id, roles FROM users WHERE is_active ORDER BY id")
        )
        found = [row[0] for row in rows if "ADMIN" in row[1].split(",")]
        await session.rollback()
    return found
