"""The `eventhub` command as operators run it: a real process in a folder of its own.

Configuration errors stop every command with one line naming the variable;
missing secrets are generated once into files; `schema`, `db upgrade`,
`create-admin` and `demo` do what the contract's command table says.
"""

from __future__ import annotations

import asyncio
import os
import re
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from graphql import build_schema
from sqlalchemy import text

from eventhub.settings import load_settings
from tests.support.accounts import guarded_fields
from tests.support.graphql import GraphQLClient

EVENTHUB = Path(sys.executable).with_name("eventhub")  # the console script the package installs
CHEAP_HASHING = {
    "EVENTHUB_PASSWORD_HASH_TIME_COST": "1",
    "EVENTHUB_PASSWORD_HASH_MEMORY_KIB": "1024",
}
SECRET_FILE, KEY_FILE = ".eventhub-secret", ".eventhub-ticket-key.pem"


def run_cli(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """Run `eventhub ARGS` in `cwd` with only the given EVENTHUB_* variables set."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("EVENTHUB_") and k != "PROMETHEUS_MULTIPROC_DIR"
    }
    return subprocess.run(
        [str(EVENTHUB), *args],
        cwd=cwd,
        env={**clean, **CHEAP_HASHING, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def run_cli_async(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`run_cli` off the event loop, so the app under test keeps serving meanwhile."""
    return await asyncio.to_thread(run_cli, cwd, *args, **env)


def assert_one_clear_line(result: subprocess.CompletedProcess[str], variable: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.returncode != 0, result
    assert len(lines) == 1, result.stderr
    assert variable in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


# --- configuration ----------------------------------------------------------------------------


BAD_VALUES = {
    "serve, hold seconds not a number": ("serve", "EVENTHUB_HOLD_SECONDS", "abc", None),
    "schema, hold seconds not a number": ("schema", "EVENTHUB_HOLD_SECONDS", "abc", None),
    "schema, unknown database driver": ("schema", "EVENTHUB_DATABASE_URL", "mysql://db/x", None),
    "schema, rate limit": ("schema", "EVENTHUB_RATE_LIMIT", "lots", None),
    "schema, provider": ("schema", "EVENTHUB_PAYMENT_PROVIDER", "paypal", None),
    "serve, smtp url": ("serve", "EVENTHUB_SMTP_URL", "http://mail.example.com", None),
    "serve, mail from": ("serve", "EVENTHUB_MAIL_FROM", "EventHub", None),
    "db upgrade, negative ttl": ("db upgrade", "EVENTHUB_ACCESS_TOKEN_TTL", "-1", None),
    "serve, stripe without its key": (
        "serve",
        "EVENTHUB_PAYMENT_PROVIDER",
        "stripe",
        "EVENTHUB_STRIPE_SECRET_KEY",
    ),
}


@pytest.mark.parametrize(
    ("command", "variable", "value", "named"), BAD_VALUES.values(), ids=BAD_VALUES
)
def test_a_bad_value_stops_the_command_with_one_line_naming_the_variable(
    tmp_path: Path, command: str, variable: str, value: str, named: str | None
) -> None:
    port = ["--port", "0"] if command == "serve" else []  # should it start anyway: no clash
    result = run_cli(tmp_path, *command.split(), *port, **{variable: value})
    assert_one_clear_line(result, named or variable)
    assert not (tmp_path / "eventhub.db").exists()  # stopped before touching the database


def test_a_bad_value_in_the_env_file_is_reported_the_same_way(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("EVENTHUB_HOLD_SECONDS=ten minutes\n")
    assert_one_clear_line(run_cli(tmp_path, "schema"), "EVENTHUB_HOLD_SECONDS")


def test_a_bad_ticket_signing_key_stops_serve_with_one_line(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", "--port", "0", EVENTHUB_TICKET_SIGNING_KEY="not-a-pem")
    assert_one_clear_line(result, "EVENTHUB_TICKET_SIGNING_KEY")


def test_first_run_generates_secrets_with_a_warning_and_schema_prints_the_guarded_sdl(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = run_cli(tmp_path, "schema", EVENTHUB_ENV="development")
    assert first.returncode == 0, first.stderr
    warnings = [line for line in first.stderr.splitlines() if "WARNING" in line]
    assert any(SECRET_FILE in line for line in warnings), first.stderr
    assert any(KEY_FILE in line for line in warnings), first.stderr
    secret, key = (tmp_path / SECRET_FILE).read_text(), (tmp_path / KEY_FILE).read_text()
    assert len(secret.strip()) >= 32
    assert key.startswith("-----BEGIN PRIVATE KEY-----")
    for name in (SECRET_FILE, KEY_FILE):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600

    build_schema(first.stdout)  # nothing but SDL on stdout: the warnings went to stderr
    assert "directive @requiresRole(roles: [Role!]!) on FIELD_DEFINITION" in first.stdout
    guards = guarded_fields(first.stdout)
    assert guards["Query.users"] == {"ADMIN"}
    assert guards["Mutation.createEvent"] == {"ORGANIZER"}
    assert guards["Subscription.salesUpdated"] == {"ORGANIZER", "ADMIN"}

    second = run_cli(tmp_path, "schema", EVENTHUB_ENV="development")
    assert second.returncode == 0
    assert "WARNING" not in second.stderr  # read back, not generated again
    assert (tmp_path / SECRET_FILE).read_text() == secret
    assert (tmp_path / KEY_FILE).read_text() == key
    assert second.stdout == first.stdout

    # A restarted server reads the same secret, so the tokens it signed stay valid.
    for name in [n for n in os.environ if n.startswith("EVENTHUB_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("EVENTHUB_ENV", "development")
    monkeypatch.chdir(tmp_path)
    assert load_settings().secret_key == secret.strip()


# --- database commands --------------------------------------------------------------------------


def _tables(path: Path) -> tuple[set[str], list[str]]:
    with sqlite3.connect(path) as connection:
        names = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        versions = [row[0] for row in connection.execute("SELECT version_num FROM alembic_version")]
    return names, versions


def test_db_upgrade_creates_a_fresh_sqlite_database_and_can_run_again(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    url = f"sqlite+aiosqlite:///{path}"
    first = run_cli(tmp_path, "db", "upgrade", EVENTHUB_DATABASE_URL=url)
    assert first.returncode == 0, first.stderr
    assert "up to date" in first.stdout
    names, versions = _tables(path)
    expected = {"users", "refresh_tokens", "events", "ticket_types", "promo_codes", "orders"}
    assert expected | {"order_items", "tickets", "audit_entries"} <= names
    assert len(versions) == 1

    again = run_cli(tmp_path, "db", "upgrade", EVENTHUB_DATABASE_URL=url)
    assert again.returncode == 0, again.stderr
    assert _tables(path) == (names, versions)


async def test_create_admin_makes_or_promotes_admins_who_can_sign_in(
    client: GraphQLClient, database_url: str, tmp_path: Path
) -> None:
    password = "admin-password-42"
    made = await run_cli_async(
        tmp_path, "create-admin", "--email", "Boss@Example.com", "--password", password,
        "--name", "The Boss", EVENTHUB_DATABASE_URL=database_url,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert "boss@example.com" in made.stdout
    admin = await client.login("boss@example.com", password)
    assert "ADMIN" in admin.roles
    listed = await client.data("{ users { edges { node { email name } } } }", token=admin.token)
    assert listed["users"]["edges"] == [{"node": {"email": "boss@example.com", "name": "The Boss"}}]

    customer = await client.register()
    promoted = await run_cli_async(
        tmp_path, "create-admin", "--email", customer.email, "--password", "whatever-plum-1234",
        EVENTHUB_DATABASE_URL=database_url,
    )  # fmt: skip
    assert promoted.returncode == 0, promoted.stderr
    assert "ADMIN" in (await client.login(customer.email)).roles  # same account, same password


def test_create_admin_refuses_a_weak_password_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "admins.db"
    weak = run_cli(
        tmp_path, "create-admin", "--email", "weak@example.com", "--password", "short",
        EVENTHUB_DATABASE_URL=f"sqlite+aiosqlite:///{path}",
    )  # fmt: skip
    assert weak.returncode != 0
    assert "Traceback" not in weak.stderr
    assert len([line for line in weak.stderr.splitlines() if "password" in line]) == 1
    with sqlite3.connect(path) as connection:
        assert connection.execute("SELECT COUNT(*) FROM users").fetchone() == (0,)


async def _counts(app: Any) -> tuple[int, ...]:
    async with app.state.eventhub.session_factory() as session:
        row = await session.execute(
            text(
                "SELECT (SELECT COUNT(*) FROM users), (SELECT COUNT(*) FROM events), "
                "(SELECT COUNT(*) FROM ticket_types), (SELECT COUNT(*) FROM promo_codes)"
            )
        )
        counts = tuple(row.one())
        await session.rollback()
    return counts


LOGIN_LINE = re.compile(r"^\s*(\w+)\s+(\S+@\S+)\s+(\S+)\s*$")


async def test_demo_loads_its_data_once_and_prints_logins_that_work(
    app: Any, client: GraphQLClient, database_url: str, tmp_path: Path
) -> None:
    first = await run_cli_async(tmp_path, "demo", EVENTHUB_DATABASE_URL=database_url)
    assert first.returncode == 0, first.stderr
    loaded = await _counts(app)
    assert loaded[:2] == (3, 2)  # an organizer, a customer, staff; two events

    again = await run_cli_async(tmp_path, "demo", EVENTHUB_DATABASE_URL=database_url)
    assert again.returncode == 0, again.stderr
    assert await _counts(app) == loaded

    logins = {m[1]: (m[2], m[3]) for m in map(LOGIN_LINE.match, first.stdout.splitlines()) if m}
    assert {"organizer", "customer", "staff"} <= set(logins)
    for email, password in logins.values():
        await client.login(email, password)
    organizer = await client.login(*logins["organizer"])
    mine = await client.data("{ myEvents { totalCount } }", token=organizer.token)
    assert mine["myEvents"]["totalCount"] == 2
    public = await client.data("{ events { totalCount } }")
    assert public["events"]["totalCount"] == 2  # both published
