"""Starting `eventhub serve` wrong: one clear line on stderr, never a traceback or a password.

A bad value of any EVENTHUB_* variable names the variable; a taken port names
the flag that changes it; an unreachable database names its URL with the
password hidden, and `--wait-for-db SECONDS` retries until it answers; a
database at a revision this release does not know says so.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sqlite3
import subprocess
import sys
import time
import typing
from pathlib import Path

import asyncpg
import httpx
import pytest

from eventhub.settings import Settings, SettingsError, load_settings
from tests.conftest import TEST_SECRET, TEST_TICKET_KEY, run_blocking
from tests.e2e.conftest import free_port, server_environment
from tests.support.fault_proxy import FaultProxy

pytestmark = pytest.mark.e2e
PASSWORD = "s3cret-pw"
WAIT = 60.0


def eventhub(cwd: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    """`eventhub ARGS` as an operator runs it, with only the given EVENTHUB_* variables."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("EVENTHUB_", "PROMETHEUS"))}
    keys = {"EVENTHUB_SECRET_KEY": TEST_SECRET, "EVENTHUB_TICKET_SIGNING_KEY": TEST_TICKET_KEY}
    return subprocess.run(
        [sys.executable, "-m", "eventhub.cli", *args],
        cwd=cwd,
        env={**clean, **keys, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def the_one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The error line: exit status not 0, no traceback, one `eventhub:` line on stderr."""
    assert result.returncode != 0, result
    assert "Traceback" not in result.stderr, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("eventhub:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_a_bad_log_level_is_one_line_naming_the_variable(tmp_path: Path) -> None:
    result = eventhub(tmp_path, "serve", EVENTHUB_LOG_LEVEL="LOUD")
    line = the_one_line(result)
    assert "EVENTHUB_LOG_LEVEL" in line
    assert "LOUD" in line
    assert result.stderr.strip() == line


def _bad_value(annotation: object) -> str | None:
    """A value the field must refuse, or None when any string is acceptable."""
    if annotation in (int, float):
        return "not-a-number"
    if typing.get_origin(annotation) is typing.Literal:
        return "no-such-choice"
    return None


VALIDATED = {
    name: bad
    for name, field in Settings.model_fields.items()
    if field.validation_alias is None
    and (bad := _bad_value(field.annotation) or {"log_level": "LOUD"}.get(name))
}


@pytest.mark.parametrize("field", sorted(VALIDATED))
def test_a_bad_value_of_any_variable_names_it(field: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("EVENTHUB_SECRET_KEY", TEST_SECRET)
    monkeypatch.setenv("EVENTHUB_TICKET_SIGNING_KEY", TEST_TICKET_KEY)
    monkeypatch.setenv(f"EVENTHUB_{field.upper()}", VALIDATED[field])
    with pytest.raises(SettingsError) as raised:
        load_settings()
    message = str(raised.value)
    assert message.startswith(f"EVENTHUB_{field.upper()}:"), message
    assert "\n" not in message


def test_every_numeric_and_choice_setting_is_covered() -> None:
    """The list above is made from the settings class: a new setting is checked by itself."""
    assert {"db_connect_timeout", "hold_seconds", "payment_provider", "log_level"} <= set(VALIDATED)


def test_a_taken_port_is_one_line_naming_the_flag(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = eventhub(tmp_path, "serve", "--port", str(port))
    line = the_one_line(result)
    assert f"port {port}" in line
    assert "--port" in line


def test_an_unreachable_database_is_one_line_without_its_password(
    tmp_path: Path, pg_url: str, db_proxy: FaultProxy
) -> None:
    db_proxy.refuse()
    url = db_proxy.url_for(pg_url).replace("postgres@", f"postgres:{PASSWORD}@", 1)
    started = time.monotonic()
    result = eventhub(tmp_path, "serve", "--port", str(free_port()), EVENTHUB_DATABASE_URL=url)
    line = the_one_line(result)
    assert PASSWORD not in result.stderr + result.stdout
    assert "unreachable" in line
    assert f"127.0.0.1:{db_proxy.port}" in line
    assert "***" in line
    assert "--wait-for-db" in line
    assert time.monotonic() - started < 30  # one attempt, not a hang


async def test_wait_for_db_retries_until_the_database_answers(
    tmp_path: Path, pg_url: str, db_proxy: FaultProxy
) -> None:
    db_proxy.refuse()
    port = free_port()
    log_path = tmp_path / "serve.log"
    command = [sys.executable, "-m", "eventhub.cli", "serve", "--port", str(port)]
    env = server_environment(db_proxy.url_for(pg_url))
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: ASYNC220 - started once, then polled
            [*command, "--wait-for-db", str(WAIT)], cwd=tmp_path, env=env, stdout=log, stderr=log
        )
    try:
        await _until(lambda: "does not answer yet" in log_path.read_text(), process)
        assert process.poll() is None, log_path.read_text()
        db_proxy.pass_traffic()
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:

            async def ready() -> bool:
                try:
                    return (await http.get("/readyz")).status_code == 200
                except httpx.TransportError:
                    return False

            deadline = time.monotonic() + WAIT
            while not await ready():
                assert process.poll() is None, log_path.read_text()
                assert time.monotonic() < deadline, log_path.read_text()
                await asyncio.sleep(0.1)
        assert "Traceback" not in log_path.read_text()
    finally:
        process.terminate()
        process.wait(timeout=30)


async def _until(condition: typing.Callable[[], bool], process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WAIT
    while not condition():
        assert process.poll() is None, "the server gave up"
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
def test_a_database_at_an_unknown_revision_is_one_line(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite+aiosqlite:///{tmp_path / 'eventhub.db'}"
        if kind == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    assert eventhub(tmp_path, "db", "upgrade", EVENTHUB_DATABASE_URL=url).returncode == 0
    _set_revision(url, "0999_from_the_future")
    result = eventhub(tmp_path, "serve", "--port", str(free_port()), EVENTHUB_DATABASE_URL=url)
    line = the_one_line(result)
    assert "0999_from_the_future" in line
    assert "cannot migrate" in line


def _set_revision(url: str, revision: str) -> None:
    if url.startswith("sqlite"):
        with sqlite3.connect(url.split(":///", 1)[1]) as connection:
            connection.execute("UPDATE alembic_version SET version_num = ?", (revision,))
        return

    async def update() -> None:
        connection = await asyncpg.connect(url.replace("postgresql+asyncpg", "postgresql"))
        try:
            await connection.execute("UPDATE alembic_version SET version_num = $1", revision)
        finally:
            await connection.close()

    run_blocking(update())
