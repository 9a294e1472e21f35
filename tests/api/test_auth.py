"""Accounts: register, log in, refresh, log out; what tokens are and when they stop working."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import argon2
import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import RefreshToken
from eventhub.settings import Settings
from tests.support.accounts import (
    DEACTIVATE,
    LOGOUT,
    SIGNED_IN_ONLY,
    audit_entries,
    jwt_claims,
    jwt_header,
    refresh,
    sign_hs256,
    top_level_code,
    unsigned,
    with_claims,
)
from tests.support.graphql import LOGIN, PASSWORD, REGISTER, Account, GraphQLClient, make_admin

ME = "{ me { id email name roles createdAt } }"


async def register_payload(client: GraphQLClient, **fields: Any) -> dict[str, Any]:
    data = {"email": "ada@example.com", "password": PASSWORD, "name": "Ada", **fields}
    payload: dict[str, Any] = (await client.data(REGISTER, {"input": data}))["register"]
    return payload


async def login_payload(client: GraphQLClient, email: str, password: str) -> dict[str, Any]:
    variables = {"email": email, "password": password}
    payload: dict[str, Any] = (await client.data(LOGIN, variables))["login"]
    return payload


def codes(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


def assert_no_tokens(payload: dict[str, Any]) -> None:
    assert (payload["accessToken"], payload["refreshToken"]) == (None, None), payload
    assert payload["errors"], payload


async def assert_signed_out(client: GraphQLClient, token: str) -> None:
    """The token opens nothing: guarded fields say UNAUTHENTICATED and `me` shows nobody."""
    assert top_level_code(await client.execute(SIGNED_IN_ONLY, token=token)) == "UNAUTHENTICATED"
    body = await client.execute(ME, token=token)
    if body.get("errors"):
        assert top_level_code(body) == "UNAUTHENTICATED"
    assert (body.get("data") or {}).get("me") is None, body


# --- register, login, me ----------------------------------------------------------------------


async def test_register_signs_the_new_customer_in_with_a_jwt(
    client: GraphQLClient, settings: Settings
) -> None:
    before = int(time.time())
    payload = await register_payload(client, email="  Ada@Example.COM ", country="pt")
    assert payload["errors"] == []
    user = payload["user"]
    assert (user["email"], user["name"], user["roles"]) == ("ada@example.com", "Ada", ["CUSTOMER"])

    token = payload["accessToken"]
    assert jwt_header(token)["alg"] == "HS256"
    claims = jwt_claims(token)
    assert {"sub", "roles", "exp", "iat", "jti"} <= set(claims)
    assert claims["roles"] == ["CUSTOMER"]
    assert before - 5 <= claims["iat"] <= time.time() + 5
    assert claims["exp"] - claims["iat"] == settings.access_token_ttl
    expires_at = datetime.fromisoformat(payload["accessTokenExpiresAt"])
    assert expires_at.utcoffset() is not None
    assert expires_at.timestamp() == claims["exp"]
    assert payload["refreshToken"]
    assert "." not in payload["refreshToken"]  # opaque, not a JWT

    me = (await client.data(ME, token=token))["me"]
    assert (me["id"], me["email"], me["roles"]) == (user["id"], "ada@example.com", ["CUSTOMER"])
    assert datetime.fromisoformat(me["createdAt"]).utcoffset() is not None


async def test_an_organizer_signs_up_by_themselves_but_never_as_admin_or_staff(
    client: GraphQLClient,
) -> None:
    organizer = await client.register(organizer=True)
    assert set(organizer.roles) == {"CUSTOMER", "ORGANIZER"}
    assert set(jwt_claims(organizer.token)["roles"]) == {"CUSTOMER", "ORGANIZER"}
    smuggled = await client.execute(
        REGISTER,
        {
            "input": {
                "email": "x@example.com",
                "password": PASSWORD,
                "name": "X",
                "roles": ["ADMIN"],
            }
        },
    )
    assert top_level_code(smuggled) == "BAD_USER_INPUT"  # RegisterInput has no roles


async def test_every_sign_in_gets_its_own_token_id(client: GraphQLClient) -> None:
    account = await client.register()
    again = await client.login(account.email)
    ids = {jwt_claims(t)["jti"] for t in (account.token, again.token)}
    assert len(ids) == 2
    assert jwt_claims(account.token)["sub"] == jwt_claims(again.token)["sub"]


async def test_me_is_null_for_anonymous_callers(client: GraphQLClient) -> None:
    assert await client.data(ME) == {"me": None}


BAD_PASSWORDS = {
    "nine characters": ("ada@example.com", "abcdefghi"),
    "empty": ("ada@example.com", ""),
    "the email": ("ada@example.com", "ada@example.com"),
    "the email in other case": ("ada.lovelace@example.com", "ADA.LOVELACE@EXAMPLE.COM"),
    "ten of one letter": ("ada@example.com", "aaaaaaaaaa"),
    "ten digits in a row": ("ada@example.com", "0123456789"),
    "a common password": ("ada@example.com", "password123"),
    "the email's name and a year": ("ada.lovelace@example.com", "adalovelace1990"),
}


@pytest.mark.parametrize(("email", "password"), BAD_PASSWORDS.values(), ids=BAD_PASSWORDS)
async def test_a_weak_password_is_refused_and_nothing_is_stored(
    client: GraphQLClient, email: str, password: str
) -> None:
    refused = await register_payload(client, email=email, password=password)
    assert_no_tokens(refused)
    assert refused["user"] is None
    assert codes(refused) == [("VALIDATION", "password")]
    assert refused["errors"][0]["message"]
    # Nothing was stored: the address is still free.
    assert (await register_payload(client, email=email))["errors"] == []


BAD_FIELDS = {
    "not an email": ({"email": "not-an-email"}, "email"),
    "blank name": ({"name": "   "}, "name"),
    "unknown country": ({"country": "Portugal"}, "country"),
}


@pytest.mark.parametrize(("fields", "field"), BAD_FIELDS.values(), ids=BAD_FIELDS)
async def test_a_bad_registration_field_is_named_in_the_error(
    client: GraphQLClient, fields: dict[str, Any], field: str
) -> None:
    refused = await register_payload(client, **fields)
    assert_no_tokens(refused)
    assert codes(refused) == [("VALIDATION", field)]


async def test_ten_hard_to_guess_characters_are_enough(client: GraphQLClient) -> None:
    payload = await register_payload(client, password="kq7#vTz!p2")
    assert payload["errors"] == []
    assert (await login_payload(client, "ada@example.com", "kq7#vTz!p2"))["errors"] == []


async def test_an_email_registers_once_whatever_its_case(client: GraphQLClient) -> None:
    assert (await register_payload(client, email="ada@example.com"))["errors"] == []
    twice = await register_payload(client, email="ADA@example.com", password="another-password-1")
    assert_no_tokens(twice)
    assert codes(twice) == [("EMAIL_TAKEN", "email")]
    # The first account keeps its password.
    assert (await login_payload(client, "ada@example.com", PASSWORD))["errors"] == []


async def test_login_with_the_right_password_and_nothing_else(client: GraphQLClient) -> None:
    account = await client.register()
    signed_in = await login_payload(client, account.email.upper(), PASSWORD)
    assert signed_in["errors"] == []
    assert signed_in["user"]["id"] == account.id
    assert jwt_claims(signed_in["accessToken"])["sub"] == jwt_claims(account.token)["sub"]

    wrong = await login_payload(client, account.email, PASSWORD + "x")
    unknown = await login_payload(client, "nobody@example.com", PASSWORD)
    for refused in (wrong, unknown):
        assert_no_tokens(refused)
        assert refused["user"] is None
        assert [e["code"] for e in refused["errors"]] == ["INVALID_CREDENTIALS"]
    # Whether the email exists is not given away.
    assert wrong["errors"] == unknown["errors"]


# --- access tokens: expiry, tampering, other keys ---------------------------------------------


def _claims_of(account: Account, **changes: Any) -> dict[str, Any]:
    return {**jwt_claims(account.token), **changes}


async def test_a_token_signed_with_the_servers_key_works_until_it_expires(
    client: GraphQLClient, settings: Settings
) -> None:
    account = await client.register()
    now = int(time.time())
    fresh = sign_hs256(_claims_of(account, iat=now, exp=now + 60), settings.secret_key)
    assert (await client.data(SIGNED_IN_ONLY, token=fresh))["myOrders"]["totalCount"] == 0

    expired = sign_hs256(_claims_of(account, iat=now - 1000, exp=now - 10), settings.secret_key)
    await assert_signed_out(client, expired)


async def test_tampered_wrong_key_and_unsigned_tokens_are_refused(
    app: Any, client: GraphQLClient, settings: Settings
) -> None:
    account = await client.register()
    admin = await make_admin(app, client)
    admin_sub = jwt_claims(admin.token)["sub"]
    forged = {
        "more roles": with_claims(account.token, roles=["ADMIN", "CUSTOMER"]),
        "someone else": with_claims(account.token, sub=admin_sub),
        "longer life": with_claims(account.token, exp=jwt_claims(account.token)["exp"] + 3600),
        "other key": sign_hs256(_claims_of(account), settings.secret_key + "-not"),
        "other key, admin": sign_hs256(_claims_of(admin), "another-secret-key-0123456789-abcdef"),
        "alg none": unsigned(_claims_of(admin)),
        "garbage": "not.a.jwt",
        "empty bearer": "",
    }
    for name, token in forged.items():
        headers = {"authorization": f"Bearer {token}"}
        response = await client.http.post(
            "/graphql", json={"query": SIGNED_IN_ONLY}, headers=headers
        )
        assert top_level_code(response.json()) == "UNAUTHENTICATED", name
        if token:
            await assert_signed_out(client, token)
        users = await client.execute("{ users { totalCount } }", token=token or None)
        assert top_level_code(users) == "UNAUTHENTICATED", name
        assert users["data"] is None
    # The genuine tokens still work.
    assert (await client.data(SIGNED_IN_ONLY, token=account.token))["myOrders"]["totalCount"] == 0


# --- refresh tokens ---------------------------------------------------------------------------


async def test_every_refresh_rotates_the_refresh_token_and_issues_a_new_access_token(
    client: GraphQLClient,
) -> None:
    account = await client.register()
    seen = {account.refresh_token}
    current = account.refresh_token
    for _ in range(3):
        payload = await refresh(client, current)
        assert payload["errors"] == []
        assert payload["user"]["id"] == account.id
        assert payload["refreshToken"] not in seen
        assert jwt_claims(payload["accessToken"])["sub"] == jwt_claims(account.token)["sub"]
        assert jwt_claims(payload["accessToken"])["jti"] != jwt_claims(account.token)["jti"]
        me = (await client.data(ME, token=payload["accessToken"]))["me"]
        assert me["id"] == account.id
        seen.add(payload["refreshToken"])
        current = payload["refreshToken"]


async def test_a_rotated_refresh_token_used_again_revokes_its_whole_family(
    client: GraphQLClient,
) -> None:
    account = await client.register()
    other_device = await client.login(account.email)
    first = await refresh(client, account.refresh_token)
    second = await refresh(client, first["refreshToken"])
    assert second["errors"] == []

    stolen = await refresh(client, account.refresh_token)  # already rotated
    assert_no_tokens(stolen)
    assert [e["code"] for e in stolen["errors"]] == ["TOKEN_REUSED"]
    again = await refresh(client, first["refreshToken"])
    assert_no_tokens(again)

    newest = await refresh(client, second["refreshToken"])  # the legitimate holder's, unused
    assert_no_tokens(newest)
    assert [e["code"] for e in newest["errors"]] in (["TOKEN_REUSED"], ["INVALID_CREDENTIALS"])

    # Another sign-in of the same account is another family and lives on.
    assert (await refresh(client, other_device.refresh_token))["errors"] == []


async def test_two_refreshes_racing_with_one_token_cannot_both_win(client: GraphQLClient) -> None:
    account = await client.register()
    results = await asyncio.gather(*(refresh(client, account.refresh_token) for _ in range(4)))
    winners = [r for r in results if r["accessToken"]]
    assert len(winners) == 1, results
    for loser in results:
        if loser is not winners[0]:
            assert_no_tokens(loser)


async def test_an_unknown_or_expired_refresh_token_is_refused(
    client: GraphQLClient, session: AsyncSession
) -> None:
    unknown = await refresh(client, "not-a-token-we-issued")
    assert_no_tokens(unknown)
    assert [e["code"] for e in unknown["errors"]] == ["INVALID_CREDENTIALS"]

    account = await client.register()
    past = datetime.now(UTC) - timedelta(seconds=1)
    await session.execute(update(RefreshToken).values(expires_at=past))
    await session.commit()
    expired = await refresh(client, account.refresh_token)
    assert_no_tokens(expired)
    assert [e["code"] for e in expired["errors"]] == ["INVALID_CREDENTIALS"]


async def test_logout_revokes_the_refresh_token(client: GraphQLClient) -> None:
    account = await client.register()
    kept = await client.login(account.email)
    assert await client.data(LOGOUT, {"token": account.refresh_token}) == {"logout": True}
    assert_no_tokens(await refresh(client, account.refresh_token))
    assert (await refresh(client, kept.refresh_token))["errors"] == []  # only that sign-in ended
    assert await client.data(LOGOUT, {"token": "never-issued"}) == {"logout": False}


async def test_logout_also_ends_the_refreshed_successors(client: GraphQLClient) -> None:
    account = await client.register()
    successor = (await refresh(client, account.refresh_token))["refreshToken"]
    assert (await client.data(LOGOUT, {"token": successor}))["logout"] is True
    assert_no_tokens(await refresh(client, successor))


# --- deactivation -----------------------------------------------------------------------------


async def test_a_deactivated_user_is_signed_out_everywhere(app: Any, client: GraphQLClient) -> None:
    admin = await make_admin(app, client)
    account = await client.register(organizer=True)
    assert (await client.data(SIGNED_IN_ONLY, token=account.token))["myOrders"]["totalCount"] == 0

    done = (await client.data(DEACTIVATE, {"id": account.id}, admin.token))["deactivateUser"]
    assert (done["errors"], done["user"]["id"]) == ([], account.id)

    await assert_signed_out(client, account.token)  # the live access token stops at once
    assert_no_tokens(await refresh(client, account.refresh_token))
    refused = await login_payload(client, account.email, PASSWORD)
    assert_no_tokens(refused)
    assert [e["code"] for e in refused["errors"]] == ["INVALID_CREDENTIALS"]


# --- auditing ---------------------------------------------------------------------------------


async def test_failed_logins_are_audited_without_the_password(
    app: Any, client: GraphQLClient
) -> None:
    account = await client.register()
    await login_payload(client, account.email, "wrong-password-123")
    await login_payload(client, "ghost@example.com", "also-wrong-password")
    admin = await make_admin(app, client)

    failed = await audit_entries(client, admin, "auth.login_failed")
    by_email = {json.loads(e["details"])["email"]: e for e in failed}
    assert set(by_email) == {account.email, "ghost@example.com"}
    known, ghost = by_email[account.email], by_email["ghost@example.com"]
    assert known["ip"] == ghost["ip"] == "203.0.113.7"
    assert known["targetType"] == "User"
    assert known["actor"] is None or known["actor"]["id"] == account.id
    assert ghost["actor"] is None
    for entry in failed:
        assert "wrong-password" not in entry["details"]
        assert datetime.fromisoformat(entry["at"]).utcoffset() is not None


# --- password hashing stays off the event loop -------------------------------------------------


async def test_concurrent_logins_hash_in_bounded_worker_threads(
    client: GraphQLClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Argon2 never runs on the event loop, and at most the configured number run at once."""
    accounts = [await client.register() for _ in range(4)]
    loop_thread = threading.get_ident()
    lock = threading.Lock()
    in_flight, peak, threads = 0, 0, set()
    real_verify = argon2.PasswordHasher.verify

    def slow_verify(self: argon2.PasswordHasher, password_hash: str, password: str) -> bool:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            threads.add(threading.get_ident())
        try:
            time.sleep(0.4)  # an expensive hash; on the loop this would freeze every request
            return real_verify(self, password_hash, password)
        finally:
            with lock:
                in_flight -= 1

    monkeypatch.setattr(argon2.PasswordHasher, "verify", slow_verify)
    gaps: list[float] = []
    done = asyncio.Event()

    async def tick() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    ticker = asyncio.create_task(tick())
    signed_in = await asyncio.gather(*(client.login(a.email) for a in accounts))
    done.set()
    await ticker

    assert [a.id for a in signed_in] == [a.id for a in accounts]
    assert loop_thread not in threads
    assert 1 <= peak <= settings.password_hash_concurrency < len(accounts)
    assert max(gaps) < 0.3, f"the event loop stalled for {max(gaps):.3f}s"
