"""The live package's place in the layers: services may call its signal, nothing imports up.

`eventhub.live.signals` is what services import; loading it must not load GraphQL,
the web layer or the resolvers (that would be a cycle waiting to happen), and no
module of the package may import the web layer at all.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import eventhub.live

PACKAGE = Path(eventhub.live.__file__).parent
ABOVE_SERVICES = ("eventhub.web", "eventhub.schema", "eventhub.resolvers", "strawberry")


def imported_modules(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
    return names


def test_no_live_module_imports_the_web_schema_or_resolver_layers() -> None:
    upward = {
        f"{path.name}: {name}"
        for path in PACKAGE.glob("*.py")
        for name in imported_modules(path)
        if name.startswith(("eventhub.web", "eventhub.schema", "eventhub.resolvers"))
    }
    assert not upward


def test_the_signal_services_call_loads_nothing_above_the_services() -> None:
    probe = (
        "import sys, eventhub.live.signals; "
        f"print(sorted(m for m in sys.modules if m.startswith({ABOVE_SERVICES!r})))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert loaded == "[]"
