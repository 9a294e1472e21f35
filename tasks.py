#!/usr/bin/env python3
"""Developer commands for EventHub: standard library only, any Python 3.11+.

    python3 tasks.py run [--port N] [--host H]   # .venv, migrate, demo data, serve (:8000)
    python3 tasks.py test [ARGS...]    # .venv with test extras, pytest ARGS
    python3 tasks.py lint              # ruff check, ruff format --check, mypy
    python3 tasks.py contract          # ../shared/tools/contract_check.py
    python3 tasks.py venv              # only create/update .venv (test and dev extras)

Every command creates `.venv` when it is missing and reinstalls the package
only when pyproject.toml changed since the last install (a stamp in .venv).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PYTHON = BIN / ("python.exe" if os.name == "nt" else "python")
STAMP = VENV / ".eventhub-install.json"
SHARED = ROOT.parent / "shared"
PYTEST_NO_TESTS = 5
HOST, PORT = "127.0.0.1", 8000


def say(message: str) -> None:
    print(f"tasks.py: {message}", flush=True)


def venv_env(development: bool = False) -> dict[str, str]:
    """The environment with .venv activated, as `source .venv/bin/activate` would leave it.

    `development` sets EVENTHUB_ENV=development unless the caller's environment says
    otherwise: a local server may then generate its own secret key.
    """
    env = dict(os.environ)
    if development:
        env.setdefault("EVENTHUB_ENV", "development")
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(BIN), env.get("PATH", "")])
    env.pop("PYTHONHOME", None)
    return env


def run(command: Sequence[str | Path], env: Mapping[str, str] | None = None) -> int:
    """Run a command in the repository root and return its exit status.

    Ctrl-C goes to the child too; we wait for it to finish its own shutdown
    (uvicorn and pytest both stop cleanly) instead of killing it.
    """
    args = [str(part) for part in command]
    print("+ " + " ".join(args), flush=True)
    with subprocess.Popen(args, cwd=ROOT, env=env) as process:
        while True:
            try:
                return process.wait()
            except KeyboardInterrupt:
                continue


def check(command: Sequence[str | Path], env: Mapping[str, str] | None = None) -> None:
    """Run a command; stop tasks.py with its exit status if it fails."""
    status = run(command, env)
    if status != 0:
        say(f"failed (exit {status}): {' '.join(str(part) for part in command)}")
        sys.exit(status)


def create_venv() -> None:
    if PYTHON.exists():
        return
    say(f"creating {VENV.relative_to(ROOT)} with {sys.executable}")
    if run([sys.executable, "-m", "venv", VENV]) != 0:
        say("python -m venv failed; on Debian/Ubuntu install python3-venv first")
        sys.exit(1)


def pyproject_digest() -> str:
    return hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()


def installed_extras() -> set[str] | None:
    """Extras of the last install, or None when pyproject.toml changed since (or never ran)."""
    try:
        stamp = json.loads(STAMP.read_text())
    except (OSError, ValueError):
        return None
    if stamp.get("pyproject") != pyproject_digest():
        return None
    return set(stamp.get("extras", []))


def install(extras: set[str]) -> None:
    """Editable install of the package with `extras`, skipped when the stamp says it is current."""
    create_venv()
    done = installed_extras()
    if done is not None and extras <= done:
        return
    target = f".[{','.join(sorted(extras))}]" if extras else "."
    say(f"installing {target} into .venv (a minute or two the first time)")
    pip: list[str | Path] = [PYTHON, "-m", "pip", "--disable-pip-version-check", "--quiet"]
    check([*pip, "install", "--upgrade", "pip"])
    check([*pip, "install", "--editable", target])
    STAMP.write_text(json.dumps({"pyproject": pyproject_digest(), "extras": sorted(extras)}))


def eventhub(*args: str) -> list[str | Path]:
    return [BIN / "eventhub", *args]


def task_run(args: list[str]) -> int:
    """Migrate, load the demo data and serve the API (GraphiQL on :8000; --port N, --host H)."""
    parser = argparse.ArgumentParser(prog="tasks.py run")
    parser.add_argument("--host", default=HOST)
    parser.add_argument("--port", type=int, default=PORT)
    options, serve_args = parser.parse_known_args(args)
    install(set())
    env = venv_env(development=True)
    check(eventhub("db", "upgrade"), env)
    check(eventhub("demo"), env)
    say(f"GraphiQL: http://{options.host}:{options.port}/graphql  (Ctrl-C stops the server)")
    serve = ["serve", "--host", options.host, "--port", str(options.port), *serve_args]
    return run(eventhub(*serve), env)


def task_test(args: list[str]) -> int:
    """Run pytest with ARGS; "no tests collected" (exit 5) fails too."""
    install({"test", "dev"})
    status = run([PYTHON, "-m", "pytest", *args], venv_env())
    if status == PYTEST_NO_TESTS:
        say("pytest collected no tests: that is a failure")
    return status


def task_lint(_args: list[str]) -> int:
    """ruff check, ruff format --check, mypy: all run, any failure fails."""
    install({"test", "dev"})
    env = venv_env()
    checks: dict[str, list[str | Path]] = {
        "ruff check": [BIN / "ruff", "check", "."],
        "ruff format --check": [BIN / "ruff", "format", "--check", "."],
        "mypy": [BIN / "mypy"],
    }
    failed = [name for name, command in checks.items() if run(command, env) != 0]
    if failed:
        say("lint failed: " + "; ".join(failed))
    return 1 if failed else 0


def task_contract(_args: list[str]) -> int:
    """Compare `eventhub schema` with ../shared/contract/schema.graphql."""
    script = SHARED / "tools" / "contract_check.py"
    if not script.exists():
        say(f"{script} not found: the contract check needs the shared/ folder beside the repo")
        return 2
    install(set())
    return run([PYTHON, script], venv_env(development=True))


def task_venv(_args: list[str]) -> int:
    """Create or update .venv with the test extras (what test and lint use)."""
    install({"test", "dev"})
    return 0


TASKS: dict[str, Callable[[list[str]], int]] = {
    "run": task_run,
    "test": task_test,
    "lint": task_lint,
    "contract": task_contract,
    "venv": task_venv,
}


def usage() -> str:
    lines = [f"  {name:<9} {(task.__doc__ or '').splitlines()[0]}" for name, task in TASKS.items()]
    return "usage: python3 tasks.py COMMAND [ARGS...]\n\ncommands:\n" + "\n".join(lines)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in TASKS:
        print(usage(), file=sys.stderr)
        return 0 if argv[:1] in (["-h"], ["--help"]) else 2
    if sys.version_info < (3, 11):  # noqa: UP036 - someone may run it with an older python3
        say(f"needs Python 3.11 or newer, this is {sys.version.split()[0]}")
        return 2
    return TASKS[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
