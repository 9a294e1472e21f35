"""Node client tests run real npm packages against a real `eventhub serve` (tests/e2e fixtures).

The packages are pinned in package.json and package-lock.json here; `.ci/run`
installs them with `npm ci`. Missing Node or packages fail the test with the
command to run, never skip it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import (  # noqa: F401  (fixtures and the report hook, re-exported)
    e2e_database_url,
    is_sqlite,
    pytest_runtest_makereport,
    start_server,
)

CLIENTS = Path(__file__).resolve().parent
SCRIPT_TIMEOUT = 90

NodeScript = Callable[..., dict[str, Any]]


@pytest.fixture
def node() -> str:
    executable = shutil.which("node")
    if executable is None:
        pytest.fail("node not found: the client tests need Node 20 or later", pytrace=False)
    if not (CLIENTS / "node_modules" / "@apollo" / "client").is_dir():
        pytest.fail(f"client packages missing: run `npm ci` in {CLIENTS}", pytrace=False)
    return executable


@pytest.fixture
def run_node(node: str) -> NodeScript:
    """`run_node("customer.mjs", base_url, eventId=...)`: the script's JSON result."""

    def run(script: str, base_url: str, **given: Any) -> dict[str, Any]:
        env = {**os.environ, "EVENTHUB_URL": base_url, "EVENTHUB_INPUT": json.dumps(given)}
        done = subprocess.run(
            [node, script],
            cwd=CLIENTS,
            env=env,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
            check=False,
        )
        assert done.returncode == 0, f"{script} failed:\n{done.stderr}\n{done.stdout}"
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    return run
