"""tests/contract/schema.graphql is the contract's SDL as the tests read it, so the suite
runs from a checkout of this repository alone. Beside ../shared (every CI run, and a
developer's machine laid out like it) the copy must equal the contract itself."""

from __future__ import annotations

from pathlib import Path

import pytest

SNAPSHOT = Path(__file__).resolve().parent / "schema.graphql"
CONTRACT = Path(__file__).resolve().parents[3] / "shared" / "contract" / "schema.graphql"


def test_the_snapshot_is_the_contract() -> None:
    if not CONTRACT.exists():
        pytest.skip(f"no contract beside this checkout ({CONTRACT}); CI always has one")
    assert SNAPSHOT.read_text() == CONTRACT.read_text(), (
        f"the contract changed: cp {CONTRACT} {SNAPSHOT}"
    )
