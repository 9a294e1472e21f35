"""EVENTHUB_SECRET_KEY signs every access token: a server never runs with a guessable one.

In production (the default) `eventhub serve` stops with one line when the key is
missing, a placeholder, short or repetitive; EVENTHUB_ENV=development generates a
missing key and only warns about a weak one. docker-compose.yml refuses to start
without the variable.
"""

from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import pytest
import yaml

from eventhub.settings import Settings, SettingsError, load_settings
from tests.conftest import TEST_SECRET
from tests.test_settings_and_cli import assert_one_clear_line, run_cli

ROOT = Path(__file__).resolve().parents[2]
WEAK_KEYS = {
    "missing": "",
    "compose's old placeholder": "change-me-placeholder-not-a-secret",
    "a tutorial's placeholder": "CHANGEME-please-to-a-long-random-string-0123",
    "short": "s3cr3t-Key-9",
    "repetitive": "ab" * 30,
}


@pytest.mark.parametrize("key", WEAK_KEYS.values(), ids=WEAK_KEYS)
def test_production_serve_refuses_a_weak_secret_key_in_one_line(tmp_path: Path, key: str) -> None:
    env = {"EVENTHUB_SECRET_KEY": key} if key else {}
    result = run_cli(tmp_path, "serve", "--port", "0", **env)
    assert_one_clear_line(result, "EVENTHUB_SECRET_KEY")
    assert "EVENTHUB_ENV=development" in result.stderr  # says how to run locally
    assert not (tmp_path / "eventhub.db").exists()  # stopped before touching the database
    assert not (tmp_path / ".eventhub-secret").exists()  # and generated nothing


def test_production_is_the_default_and_a_random_key_passes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("EVENTHUB_ENV", raising=False)
    monkeypatch.setenv("EVENTHUB_SECRET_KEY", TEST_SECRET)
    settings = load_settings()
    assert settings.env == "production"
    settings.require_signing_secret()  # no exception
    monkeypatch.setenv("EVENTHUB_SECRET_KEY", WEAK_KEYS["short"])
    with pytest.raises(SettingsError, match="EVENTHUB_SECRET_KEY: too short"):
        load_settings().require_signing_secret()


def test_development_generates_a_missing_key_and_warns_about_a_weak_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.delenv("EVENTHUB_SECRET_KEY", raising=False)
    monkeypatch.setenv("EVENTHUB_ENV", "development")
    generated = load_settings()
    generated.require_signing_secret()
    assert generated.secret_key == (tmp_path / ".eventhub-secret").read_text().strip()
    assert len(generated.secret_key) >= 32

    weak = Settings(_env_file=None, env="development", secret_key="dev")  # type: ignore[call-arg]
    with caplog.at_level(logging.WARNING, logger="eventhub.settings"):
        weak.require_signing_secret()
    assert "EVENTHUB_SECRET_KEY: too short" in caplog.text


def test_an_unknown_environment_name_stops_start_up_naming_the_variable(tmp_path: Path) -> None:
    result = run_cli(tmp_path, "serve", "--port", "0", EVENTHUB_ENV="staging")
    assert_one_clear_line(result, "EVENTHUB_ENV")


def test_docker_compose_requires_the_secret_key() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    value = compose["services"]["api"]["environment"]["EVENTHUB_SECRET_KEY"]
    assert value.startswith("${EVENTHUB_SECRET_KEY:?"), value  # compose stops when it is unset


def test_tasks_run_and_contract_set_development_unless_told_otherwise(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    spec = importlib.util.spec_from_file_location("eventhub_tasks", ROOT / "tasks.py")
    assert spec is not None
    assert spec.loader is not None
    tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tasks)
    monkeypatch.delenv("EVENTHUB_ENV", raising=False)
    assert tasks.venv_env(development=True)["EVENTHUB_ENV"] == "development"
    assert "EVENTHUB_ENV" not in tasks.venv_env()
    monkeypatch.setenv("EVENTHUB_ENV", "production")
    assert tasks.venv_env(development=True)["EVENTHUB_ENV"] == "production"
