"""What abusive documents cost the server, next to a plain `{ __typename }`.

Not a test: prints, for each document of the corpus (the shapes of issue 13's
query gate), the server-side time per request, the AST nodes the query gate
visited per request (`GateStats.nodes_visited`), graphql-core validations per
request, the answer's code and the document's size. Every request sends the
document under a new operation name, so no parse or validation cache helps.

By default the app is built in this process (SQLite in a temporary directory,
rate limit lifted) and called through httpx's ASGI transport, so time is the
server's work without the network. With a URL the same corpus goes to a
running server over HTTP (nodes and validations are then not known: `-`).

    python bench/abuse.py                       # in-process, 20 requests per document
    python bench/abuse.py --requests 5 --only chain20,repeat400
    python bench/abuse.py http://127.0.0.1:8000/graphql

On code without the gate, a doubling chain of 40 fragments never finishes:
use --only to pick what to run there.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
from graphql import get_introspection_query

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def fragment_chain(count: int) -> str:
    middle = " ".join(
        f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(1, count)
    )
    return f"query {{ ...F1 }} {middle} fragment F{count} on Query {{ __typename }}"


def corpus() -> dict[str, str]:
    aliases = " ".join(f"a{i}: __typename" for i in range(400))
    return {
        "typename": "{ __typename }",
        "introspection": get_introspection_query().strip(),
        "chain20": fragment_chain(20),
        "chain40": fragment_chain(40),
        "cycle": "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }",
        "repeat400": "{" + "".join(f"me{{id}}{' ' * (n % 3)}\n" for n in range(400)) + "}",
        "repeat150": "{" + "".join(f"me{{id}}{' ' * (n % 3)}\n" for n in range(150)) + "}",
        "aliases400": "{ " + aliases + " }",
        "directives250": "{ __typename" + " @include(if: true)" * 250 + " }",
        "nested_lists": "{ events(first: " + "[" * 300 + "]" * 300 + ") { totalCount } }",
        "cost": "{ myOrders(first: 100) { edges { node { tickets { event { id } } } } } }",
        "tokens": "{ " + "__typename " * 20_000 + "}",
        "comments": "{ __typename }\n" + "#\n" * 20_000,
        "length": "{ __typename }" + " " * 900_000,
    }


class Counted:
    """graphql-core validations and gate visits, when the app runs in this process."""

    def __init__(self) -> None:
        import strawberry.schema.schema as strawberry_schema

        from eventhub.schema import limits

        self.stats = getattr(limits, "GateStats", None)  # None: code from before the gate
        self.validations = 0
        validate = strawberry_schema.validate

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.validations += 1
            return validate(*args, **kwargs)

        strawberry_schema.validate = counted  # type: ignore[attr-defined]

    def snapshot(self) -> tuple[int, int]:
        return (self.stats.nodes_visited if self.stats else -1), self.validations


@contextlib.asynccontextmanager
async def in_process() -> AsyncIterator[httpx.AsyncClient]:
    from eventhub.settings import Settings, _new_ed25519_pem
    from eventhub.web.app import create_app

    with tempfile.TemporaryDirectory() as folder:
        os.chdir(folder)  # the generated keys and uploads land here
        settings = Settings(
            _env_file=None,  # type: ignore[call-arg]
            database_url=f"sqlite+aiosqlite:///{folder}/abuse.db",
            secret_key="abuse-bench-secret-key-0123456789abcdef",
            ticket_signing_key=_new_ed25519_pem(),
            rate_limit="1000000/minute",
            upload_dir=Path(folder) / "uploads",
        )
        app = create_app(settings)
        logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as http:
                yield http


def vary(document: str, n: int) -> str:
    """The document under a new operation name: no parse or validation cache can help.

    (A trailing comment would not do: the validation cache is keyed by the parsed
    document, which has no comments.)"""
    if document.startswith("{"):
        return f"query Q{n} {document}"
    for head in ("query {", "query IntrospectionQuery {"):
        if document.startswith(head):
            return f"query Q{n} {{{document[len(head) :]}"
    raise ValueError(f"no operation to rename in {document[:20]!r}")


def code_of(body: Any) -> str:
    errors = body.get("errors") if isinstance(body, dict) else None
    if not errors:
        return "data"
    return str(errors[0].get("extensions", {}).get("code", "?"))


async def run(http: httpx.AsyncClient, url: str, args: argparse.Namespace) -> None:
    counted = Counted() if not args.url else None
    documents = corpus()
    names = args.only.split(",") if args.only else list(documents)
    print(
        f"{'document':<14} {'bytes':>8} {'ms/request':>11} {'x typename':>11} "
        f"{'nodes/req':>10} {'validations':>12}  answer"
    )
    baseline: float | None = None
    for name in ["typename", *[n for n in names if n != "typename"]]:
        document = documents[name]
        times: list[float] = []
        before = counted.snapshot() if counted else (0, 0)
        code = ""
        for n in range(args.requests):
            text = vary(document, n)
            started = time.perf_counter()
            response = await http.post(url, json={"query": text})
            times.append(time.perf_counter() - started)
            code = (
                code_of(response.json())
                if response.headers.get("content-type", "").startswith("application/")
                else str(response.status_code)
            )
        median = statistics.median(times) * 1000
        baseline = baseline or median
        if counted:
            nodes, validations = (a - b for a, b in zip(counted.snapshot(), before, strict=True))
            shown = f"{nodes / args.requests:.0f}" if counted.stats else "-"
            per = f"{shown:>10} {validations / args.requests:>12.1f}"
        else:
            per = f"{'-':>10} {'-':>12}"
        print(
            f"{name:<14} {len(document.encode()):>8} {median:>11.2f} "
            f"{median / baseline:>10.1f}x {per}  {code}"
        )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("url", nargs="?", help="a running server's /graphql (default: in-process)")
    parser.add_argument("--requests", type=int, default=20, help="per document (median shown)")
    parser.add_argument("--only", help="comma-separated document names")
    args = parser.parse_args()
    if args.url:
        async with httpx.AsyncClient(timeout=120) as http:
            await run(http, args.url, args)
    else:
        async with in_process() as http:
            await run(http, "/graphql", args)


if __name__ == "__main__":
    asyncio.run(main())
