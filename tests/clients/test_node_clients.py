"""Apollo Client, graphql-request and urql, as published on npm, against `eventhub serve`.

One story per database: an organizer (graphql-request) opens an event, a customer
(Apollo Client with the persisted-query and batch links) books it with a promo
code and fetches the QR code, and the organizer scans it at the door (urql).
"""

from __future__ import annotations

import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.clients.conftest import NodeScript
from tests.e2e.conftest import ServerLauncher, server_environment


def operations(log: list[dict[str, Any]], name: str) -> list[tuple[str, bool, bool, int]]:
    """(method, sent the text, sent the hash, status) of each request carrying `name`."""
    return [
        (request["method"], op["withQuery"], op["withHash"], request["status"])
        for request in log
        for op in request["operations"]
        if op["name"] == name
    ]


async def test_standard_clients_book_and_scan_a_ticket(
    start_server: ServerLauncher, run_node: NodeScript
) -> None:
    server = await start_server()

    organizer = run_node("organizer.mjs", server.base_url)
    event = organizer["event"]
    assert organizer["createErrors"] == []
    assert "ORGANIZER" in organizer["roles"]
    assert organizer["status"] == "PUBLISHED"
    assert organizer["forbidden"] == "FORBIDDEN"
    assert organizer["browsed"]["totalCount"] == 1  # `first: null` is the default page
    [tier] = event["ticketTypes"]

    customer = run_node("customer.mjs", server.base_url, eventId=event["id"], tierId=tier["id"])
    assert customer["browse"]["edges"][0]["node"]["name"] == "Node Conf"
    assert customer["browseAgain"] == customer["browse"]
    order = customer["order"]
    assert customer["bookErrors"] == []
    assert order["status"] == "PAID"
    assert order["promoCode"] == "EARLY25"
    assert Decimal(order["subtotal"]["amount"]) == Decimal("200.00")
    assert Decimal(order["total"]["amount"]) == Decimal("150.00")
    assert order["total"]["currency"] == "EUR"
    assert order["payment"]["provider"] == "offline"
    assert len(order["tickets"]) == 2
    assert customer["qr"]["status"] == 200
    assert customer["qr"]["type"].startswith("image/svg+xml")
    assert "<svg" in customer["qr"]["svg"]
    assert customer["eventByGet"]["sold"] == 2
    assert customer["batched"]["event"]["remaining"] == 78  # the tier: 80 - 2
    assert customer["batched"]["orders"]["totalCount"] == 1
    assert customer["batched"]["keys"]["keys"]

    apq = customer["requests"]["apq"]
    # First sight of a document: hash only, PersistedQueryNotFound (HTTP 200), then the text.
    assert operations(apq, "Browse") == [
        ("POST", False, True, 200),
        ("POST", True, True, 200),
        ("POST", False, True, 200),  # a second client: the hash alone now runs it
    ]
    assert operations(apq, "Book") == [("POST", False, True, 200), ("POST", True, True, 200)]
    by_get = customer["requests"]["get"]
    assert operations(by_get, "Event") == [
        ("GET", False, True, 200),
        ("POST", True, True, 200),  # Apollo registers by POST, then GETs the hash
        ("GET", False, True, 200),
    ]
    [batch] = customer["requests"]["batched"]
    assert batch["method"] == "POST"
    assert sorted(op["name"] for op in batch["operations"]) == ["Event", "Keys", "MyOrders"]

    door = run_node(
        "door.mjs",
        server.base_url,
        eventId=event["id"],
        organizerToken=organizer["token"],
        qrToken=order["tickets"][0]["qrToken"],
    )
    assert door["first"]["outcome"] == "VALID"
    assert door["first"]["ticket"]["status"] == "USED"
    assert door["second"]["outcome"] == "ALREADY_USED"
    assert door["second"]["firstCheckedInAt"] == door["first"]["ticket"]["checkedInAt"]
    assert door["anonymous"] == ["UNAUTHENTICATED"]
    assert door["numbers"]["event"]["sold"] == 2
    assert door["numbers"]["myEvents"]["totalCount"] == 1


def add_documents(manifest: Path, database_url: str) -> subprocess.CompletedProcess[str]:
    """`eventhub documents add MANIFEST` on the server's database, as an operator runs it."""
    return subprocess.run(
        [sys.executable, "-m", "eventhub.cli", "documents", "add", str(manifest)],
        cwd=manifest.parent,
        env=server_environment(database_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def test_an_app_built_with_trusted_documents_runs_them_by_hash_alone(
    start_server: ServerLauncher, run_node: NodeScript, e2e_database_url: str, tmp_path: Path
) -> None:
    server = await start_server(trusted_documents_only=1)
    manifest = tmp_path / "persisted-documents.json"
    manifest.write_text(json.dumps(run_node("trusted.mjs", server.base_url, mode="manifest")))
    added = add_documents(manifest, e2e_database_url)
    assert added.returncode == 0, added.stderr
    assert "1 trusted documents added" in added.stdout

    app = run_node("trusted.mjs", server.base_url)
    assert app["browse"] == {"__typename": "EventConnection", "totalCount": 0}
    assert operations(app["requests"], "TrustedBrowse") == [("POST", False, True, 200)]
    assert app["refused"]["codes"] == ["FORBIDDEN"]
    # The improvised document is refused at its hash: no point asking for its text.
    assert operations(app["requests"], "Improvised") == [("POST", False, True, 403)]


async def test_graphql_ws_reconnects_with_a_fresh_token_after_4403(
    start_server: ServerLauncher, run_node: NodeScript
) -> None:
    """The contract's promise to a live dashboard built on graphql-ws: an expired token
    closes the socket with 4403, the client asks its connectionParams again and the
    subscription carries on with the new token."""
    server = await start_server(access_token_ttl=10)
    live = run_node("live.mjs", server.base_url)
    assert live["errors"] == []
    assert 4403 in live["closes"]
    assert live["connected"] >= 2
    assert live["distinctTokens"] == live["tokensSent"] >= 2  # a new token at each connect
    assert live["orderStatus"] == "PAID"
    assert live["sold"][0] == 0
    assert live["sold"][-1] == 2
