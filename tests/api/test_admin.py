"""Admins oversee accounts (list, roles, deactivation) and read the audit trail."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest

from eventhub.global_ids import decode_id
from tests.support.accounts import (
    DEACTIVATE,
    LOGOUT,
    audit_entries,
    audit_log,
    jwt_claims,
    refresh,
    set_roles,
    top_level_code,
)
from tests.support.factories import create_event
from tests.support.graphql import LOGIN, Account, GraphQLClient, make_admin

CLIENT_IP = "203.0.113.7"  # the address the test client connects from (tests/conftest.py)
USERS = """query($first: Int, $after: String, $search: String) {
  users(first: $first, after: $after, search: $search) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { id email name roles } }
  }
}"""
MY_EVENTS = "{ myEvents { totalCount } }"


async def users(client: GraphQLClient, admin: Account, **variables: Any) -> dict[str, Any]:
    sent = {name: value for name, value in variables.items() if value is not None}
    connection: dict[str, Any] = (await client.data(USERS, sent, admin.token))["users"]
    return connection


def emails(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["email"] for edge in connection["edges"]]


def is_target(entry: dict[str, Any], account: Account) -> bool:
    """The entry is about this account (its id as the API shows it, or the stored key)."""
    stored = str(decode_id(account.id, "User"))
    return entry["targetType"] == "User" and entry["targetId"] in (account.id, stored)


# --- users ------------------------------------------------------------------------------------


async def test_admins_page_through_every_user(app: Any, client: GraphQLClient) -> None:
    admin = await make_admin(app, client)
    everyone = [admin.email] + [(await client.register()).email for _ in range(4)]
    seen: list[str] = []
    after = None
    while True:
        page = await users(client, admin, first=2, after=after)
        assert page["totalCount"] == len(everyone)
        assert len(page["edges"]) <= 2
        seen += emails(page)
        if not page["pageInfo"]["hasNextPage"]:
            break
        assert page["pageInfo"]["endCursor"] == page["edges"][-1]["cursor"]
        after = page["pageInfo"]["endCursor"]
    assert sorted(seen) == sorted(everyone)
    assert len(seen) == len(set(seen))
    assert (await users(client, admin, first=100))["totalCount"] == len(everyone)


async def test_admins_search_users_by_email_or_name_in_any_case(
    app: Any, client: GraphQLClient
) -> None:
    admin = await make_admin(app, client)
    await client.register(email="grace.hopper@navy.example", name="Grace Hopper")
    await client.register(email="alan@example.com", name="Alan Turing")
    await client.register(email="ada@example.com", name="Ada Lovelace")

    assert emails(await users(client, admin, search="HOPPER")) == ["grace.hopper@navy.example"]
    assert emails(await users(client, admin, search="turing")) == ["alan@example.com"]
    found = await users(client, admin, search="a")
    assert found["totalCount"] >= 3
    nobody = await users(client, admin, search="nobody-like-this")
    assert (nobody["totalCount"], nobody["edges"]) == (0, [])


async def test_a_user_search_for_an_underscore_is_literal(app: Any, client: GraphQLClient) -> None:
    admin = await make_admin(app, client)
    await client.register(email="under_score@example.com", name="Under Score")
    await client.register(email="plain@example.com", name="Plain")
    assert emails(await users(client, admin, search="_")) == ["under_score@example.com"]
    assert emails(await users(client, admin, search="%")) == []


PAGE_ARGUMENTS = {
    "users first 101": ("{ users(first: 101) { totalCount } }", "BAD_USER_INPUT"),
    "users first 0": ("{ users(first: 0) { totalCount } }", "BAD_USER_INPUT"),
    "users after garbage": ('{ users(after: "garbage") { totalCount } }', "BAD_USER_INPUT"),
    "auditLog first 101": ("{ auditLog(first: 101) { totalCount } }", "BAD_USER_INPUT"),
    "auditLog after garbage": ('{ auditLog(after: "???") { totalCount } }', "BAD_USER_INPUT"),
}


@pytest.mark.parametrize(("query", "code"), PAGE_ARGUMENTS.values(), ids=PAGE_ARGUMENTS)
async def test_admin_lists_refuse_a_bad_page_request(
    app: Any, client: GraphQLClient, query: str, code: str
) -> None:
    admin = await make_admin(app, client)
    body = await client.execute(query, token=admin.token)
    assert top_level_code(body) == code
    assert body["data"] is None


async def test_a_page_of_one_hundred_is_allowed(app: Any, client: GraphQLClient) -> None:
    admin = await make_admin(app, client)
    body = await client.data(
        "{ users(first: 100) { totalCount } auditLog(first: 100) { totalCount } }",
        token=admin.token,
    )
    assert body["users"]["totalCount"] == 1
    assert body["auditLog"]["totalCount"] >= 1


# --- roles and deactivation -------------------------------------------------------------------


async def test_set_user_roles_replaces_the_roles_and_applies_at_once(
    app: Any, client: GraphQLClient
) -> None:
    admin = await make_admin(app, client)
    account = await client.register(organizer=True)
    await create_event(client, account)
    assert (await client.data(MY_EVENTS, token=account.token))["myEvents"]["totalCount"] == 1

    granted = await set_roles(client, admin, account.id, ["CUSTOMER", "STAFF", "STAFF"])
    assert granted["errors"] == []
    assert sorted(granted["user"]["roles"]) == ["CUSTOMER", "STAFF"]
    me = (await client.data("{ me { roles } }", token=account.token))["me"]
    assert sorted(me["roles"]) == ["CUSTOMER", "STAFF"]
    # The organizer role is gone for the token issued before the change, too.
    assert top_level_code(await client.execute(MY_EVENTS, token=account.token)) == "FORBIDDEN"
    again = await client.login(account.email)
    assert sorted(jwt_claims(again.token)["roles"]) == ["CUSTOMER", "STAFF"]


async def test_role_and_deactivation_changes_need_a_real_user(
    app: Any, client: GraphQLClient
) -> None:
    admin = await make_admin(app, client)
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer)
    for user_id in (event["id"], "not-an-id"):
        payload = await set_roles(client, admin, user_id, ["ADMIN"])
        assert (payload["user"], payload["errors"][0]["code"]) == (None, "NOT_FOUND")
        assert payload["errors"][0]["field"] == "userId"
        gone = (await client.data(DEACTIVATE, {"id": user_id}, admin.token))["deactivateUser"]
        assert (gone["user"], [e["code"] for e in gone["errors"]]) == (None, ["NOT_FOUND"])
    assert await audit_entries(client, admin, "user.set_roles") == []


# --- the audit trail --------------------------------------------------------------------------


async def test_sensitive_actions_are_audited_with_actor_ip_target_and_details(
    app: Any, client: GraphQLClient
) -> None:
    admin = await make_admin(app, client)
    account = await client.register()
    await client.login(account.email)
    failed = await client.data(LOGIN, {"email": account.email, "password": "not-the-password"})
    assert failed["login"]["errors"]
    assert (await client.data(LOGOUT, {"token": account.refresh_token}))["logout"] is True
    assert (await set_roles(client, admin, account.id, ["CUSTOMER", "ORGANIZER"]))["errors"] == []
    assert (await client.data(DEACTIVATE, {"id": account.id}, admin.token))["deactivateUser"][
        "errors"
    ] == []

    expected_actor: dict[str, set[str | None]] = {
        "auth.login": {account.id},
        "auth.login_failed": {account.id, None},  # the account tried, or nobody signed in
        "auth.logout": {account.id},
        "user.set_roles": {admin.id},
        "user.deactivate": {admin.id},
    }
    for action, actors in expected_actor.items():
        entries = [e for e in await audit_entries(client, admin, action) if is_target(e, account)]
        assert len(entries) == 1, (action, entries)
        [entry] = entries
        assert entry["action"] == action
        assert entry["ip"] == CLIENT_IP, entry
        assert (entry["actor"] or {}).get("id") in actors, entry
        assert datetime.fromisoformat(entry["at"]).utcoffset() is not None
        if entry["details"] is not None:
            assert isinstance(json.loads(entry["details"]), dict)

    [change] = await audit_entries(client, admin, "user.set_roles")
    assert "ORGANIZER" in change["details"]
    [failure] = await audit_entries(client, admin, "auth.login_failed")
    assert json.loads(failure["details"])["email"] == account.email


async def test_token_reuse_is_audited_with_the_callers_ip(app: Any, client: GraphQLClient) -> None:
    account = await client.register()
    await refresh(client, account.refresh_token)
    assert (await refresh(client, account.refresh_token))["errors"][0]["code"] == "TOKEN_REUSED"
    admin = await make_admin(app, client)
    [entry] = await audit_entries(client, admin, "auth.token_reuse")
    assert entry["ip"] == CLIENT_IP


async def test_token_reuse_audit_names_the_account_it_revoked(
    app: Any, client: GraphQLClient
) -> None:
    account = await client.register()
    await refresh(client, account.refresh_token)
    await refresh(client, account.refresh_token)
    admin = await make_admin(app, client)
    [entry] = await audit_entries(client, admin, "auth.token_reuse")
    named = is_target(entry, account) or (entry["actor"] or {}).get("id") == account.id
    assert named, entry


async def test_the_audit_log_filters_by_action_and_actor_and_pages_newest_first(
    app: Any, client: GraphQLClient
) -> None:
    alice, bob = await client.register(), await client.register()
    for account in (alice, bob, alice):
        await client.login(account.email)
    admin = await make_admin(app, client)

    alice_logins = await audit_log(client, admin, action="auth.login", actorId=alice.id)
    assert alice_logins["totalCount"] == 2
    assert {e["node"]["actor"]["id"] for e in alice_logins["edges"]} == {alice.id}
    everything_by_bob = await audit_log(client, admin, actorId=bob.id)
    actions = sorted(e["node"]["action"] for e in everything_by_bob["edges"])
    assert actions == ["auth.login", "user.register"]
    assert (await audit_log(client, admin, actorId="not-an-id"))["totalCount"] == 0
    assert (await audit_log(client, admin, action="no.such.action"))["totalCount"] == 0

    full = await audit_log(client, admin, first=100)
    newest_first = [e["node"] for e in full["edges"]]
    stamps = [datetime.fromisoformat(e["at"]) for e in newest_first]
    assert stamps == sorted(stamps, reverse=True)
    paged: list[dict[str, Any]] = []
    after = None
    while True:
        page = await audit_log(client, admin, first=3, after=after)
        assert page["totalCount"] == full["totalCount"]
        paged += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [e["id"] for e in paged] == [e["id"] for e in newest_first]
    assert len(paged) == full["totalCount"]
