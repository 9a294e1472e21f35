"""The `eventhub` command: serve, db upgrade, create-admin, demo, schema."""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from collections.abc import Sequence
from typing import Any

from eventhub.settings import Settings, SettingsError, load_settings
from eventhub.startup import StartupError


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    try:
        settings = load_settings(start_up=args.command == "serve")
        logging.getLogger().setLevel(settings.log_level)
        return int(args.handler(settings, args) or 0)
    except SettingsError as error:
        print(f"eventhub: bad configuration: {error}", file=sys.stderr)
        return 2
    except StartupError as error:
        print(f"eventhub: {error}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="eventhub", description="EventHub ticketing API")
    commands = parser.add_subparsers(dest="command", required=True)

    serve = commands.add_parser("serve", help="run the API (migrates the database first)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument(
        "--wait-for-db",
        type=float,
        default=0,
        metavar="SECONDS",
        help="retry an unreachable database this long before giving up (default 0)",
    )
    serve.add_argument(
        "--graceful-timeout",
        type=float,
        default=20,
        metavar="SECONDS",
        help="on SIGTERM, how long requests in flight may take to finish (default 20)",
    )
    serve.set_defaults(handler=_serve)

    db = commands.add_parser("db", help="database maintenance")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    db_commands.add_parser("upgrade", help="apply Alembic migrations").set_defaults(
        handler=_upgrade
    )

    admin = commands.add_parser("create-admin", help="create (or promote) an admin")
    admin.add_argument("--email", required=True)
    admin.add_argument("--password", required=True)
    admin.add_argument("--name", default="Admin")
    admin.set_defaults(handler=_create_admin)

    _add_ticket_commands(commands)
    payments = commands.add_parser("payments", help="payment operations")
    payment_commands = payments.add_subparsers(dest="payments_command", required=True)
    reconcile = payment_commands.add_parser(
        "reconcile", help="list orders whose state disagrees with Stripe"
    )
    reconcile.add_argument("--since", help="only orders created at or after (ISO 8601)")
    reconcile.add_argument("--fix", action="store_true", help="repair what is safe to repair")
    reconcile.set_defaults(handler=_reconcile)
    analytics = commands.add_parser("analytics", help="the maintained sales figures")
    analytics_commands = analytics.add_subparsers(dest="analytics_command", required=True)
    rebuild = analytics_commands.add_parser(
        "rebuild", help="recount every figure from the orders (blocks bookings meanwhile)"
    )
    rebuild.add_argument("--check", action="store_true", help="only compare with a recount")
    rebuild.set_defaults(handler=_rebuild_analytics)
    commands.add_parser("demo", help="load demo data and print the logins").set_defaults(
        handler=_demo
    )
    commands.add_parser("schema", help="print the GraphQL SDL").set_defaults(handler=_schema)
    documents = commands.add_parser("documents", help="trusted (persisted) documents")
    document_commands = documents.add_subparsers(dest="documents_command", required=True)
    add = document_commands.add_parser(
        "add", help="load a persisted-documents manifest (JSON: id -> document)"
    )
    add.add_argument("file", help="e.g. persisted-documents.json from GraphQL Codegen or Relay")
    add.set_defaults(handler=_documents_add)
    return parser


def _add_ticket_commands(commands: Any) -> None:
    keys = commands.add_parser("keys", help="QR ticket signing keys")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    key_commands.add_parser("list", help="key ids, signing key first").set_defaults(
        handler=_keys_list
    )
    key_commands.add_parser(
        "rotate", help="sign with a new key; old keys keep verifying"
    ).set_defaults(handler=_keys_rotate)
    retire = key_commands.add_parser("retire", help="stop accepting an old key, everywhere")
    retire.add_argument("kid", nargs="?", help="the key id (`eventhub keys list`)")
    retire.add_argument("--kid", dest="kid_option", help="the same, as an option")
    retire.set_defaults(handler=_keys_retire)

    tickets = commands.add_parser("tickets", help="tickets for offline scanners")
    ticket_commands = tickets.add_subparsers(dest="tickets_command", required=True)
    export = ticket_commands.add_parser("export", help="JSON of an event's tickets and keys")
    export.add_argument("--event", required=True, help="event id (as the API shows it)")
    export.set_defaults(handler=_tickets_export)


def _serve(settings: Settings, args: argparse.Namespace) -> int:
    import uvicorn

    from eventhub import startup

    startup.check_port_free(args.host, args.port)
    startup.wait_for_database(settings.database_url, args.wait_for_db, settings.db_connect_timeout)
    startup.migrate(settings.database_url)
    _prepare_metrics_dir(settings)
    uvicorn.run(
        "eventhub.web.app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        timeout_graceful_shutdown=args.graceful_timeout,
        log_level=settings.log_level.lower(),
        proxy_headers=False,
        ws="eventhub.live.uvicorn_frames:EventHubWebSocketProtocol",  # live frames written directly
        http="eventhub.web.http_protocol:EventHubHttpProtocol",  # a deadline on headers
        # Slow or greedy clients are dropped: idle keep-alive connections, oversized
        # WebSocket messages (closed with 1009), more connections than a worker serves.
        timeout_keep_alive=settings.http_keep_alive_timeout,
        ws_max_size=settings.max_ws_message_bytes,
        limit_concurrency=settings.max_connections,
    )
    return 0


def _prepare_metrics_dir(settings: Settings) -> None:
    """Workers share counters through files in one fresh folder (prometheus multiprocess).

    The folder is always new, so counters start at zero with the server; a folder the
    operator named in PROMETHEUS_MULTIPROC_DIR gets a new subfolder, never emptied.
    """
    import os
    import tempfile

    parent = settings.prometheus_multiproc_dir
    if parent:
        os.makedirs(parent, exist_ok=True)
    folder = tempfile.mkdtemp(prefix="eventhub-metrics-", dir=parent or None)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = folder  # read by prometheus-client in each worker


def _upgrade(settings: Settings, _args: argparse.Namespace) -> int:
    from eventhub import startup

    startup.migrate(settings.database_url)
    print("database is up to date")
    return 0


def _create_admin(settings: Settings, args: argparse.Namespace) -> int:
    from eventhub.commands import create_admin

    return asyncio.run(create_admin(settings, args.email, args.password, args.name))


def _rebuild_analytics(settings: Settings, args: argparse.Namespace) -> int:
    from eventhub.commands import rebuild_analytics

    return asyncio.run(rebuild_analytics(settings, args.check))


def _demo(settings: Settings, _args: argparse.Namespace) -> int:
    from eventhub.commands import load_demo

    return asyncio.run(load_demo(settings))


def _keys_list(settings: Settings, _args: argparse.Namespace) -> int:
    from eventhub import ticket_keys

    return ticket_keys.list_keys(settings)


def _keys_rotate(settings: Settings, _args: argparse.Namespace) -> int:
    from eventhub import ticket_keys

    return ticket_keys.rotate(settings)


def _keys_retire(settings: Settings, args: argparse.Namespace) -> int:
    from eventhub import ticket_keys

    kid = args.kid or args.kid_option
    if not kid:
        print("eventhub keys retire: give the key id (eventhub keys list)", file=sys.stderr)
        return 2
    return asyncio.run(ticket_keys.retire(settings, kid))


def _tickets_export(settings: Settings, args: argparse.Namespace) -> int:
    from eventhub.commands import export_tickets

    return asyncio.run(export_tickets(settings, args.event))


def _reconcile(settings: Settings, args: argparse.Namespace) -> int:
    from eventhub.commands import reconcile_payments

    return asyncio.run(reconcile_payments(settings, args.since, args.fix))


def _documents_add(settings: Settings, args: argparse.Namespace) -> int:
    from pathlib import Path

    from eventhub.commands import add_trusted_documents

    try:
        text = Path(args.file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        print(f"eventhub: {args.file}: {error}", file=sys.stderr)
        return 2
    return asyncio.run(add_trusted_documents(settings, args.file, text))


def _schema(settings: Settings, _args: argparse.Namespace) -> int:
    from eventhub.schema.schema import build_schema

    print(build_schema(settings).as_str())
    return 0


if __name__ == "__main__":
    sys.exit(main())
