"""EVENTHUB_TRUSTED_DOCUMENTS_ONLY holds on sockets too: an operation sent over either
WebSocket protocol runs only when its document is trusted (the dashboard's own are),
except for an admin, as over HTTP. Both databases, a real server."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from websockets.asyncio.client import connect
from websockets.typing import Subprotocol

from tests.e2e.conftest import RunningServer, ServerLauncher, graphql_client, server_environment
from tests.support.factories import create_event
from tests.support.graphql import PASSWORD
from tests.support.ws import graphql_ws_url, init_payload, open_socket

pytestmark = pytest.mark.e2e

DASHBOARD = json.loads(
    (Path(__file__).parents[2] / "eventhub/web/static/dashboard-documents.json").read_text()
)
[TRUSTED_SALES] = [text for text in DASHBOARD.values() if text.startswith("subscription Sales")]
IMPROVISED = "subscription($id: ID!) { salesUpdated(eventId: $id) { eventId ticketsSold } }"


def create_admin(database_url: str, workdir: Path, email: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "eventhub.cli", "create-admin", "--email", email,
         "--password", PASSWORD],
        cwd=workdir, env=server_environment(database_url), capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr


async def refused_codes(server: RunningServer, token: str | None, event: str) -> list[str]:
    """The error codes an improvised subscription is refused with (graphql-transport-ws)."""
    async with open_socket(server.base_url, token) as socket:
        operation = await socket.subscribe(IMPROVISED, {"id": event})
        return [error["extensions"]["code"] for error in await socket.refusal(operation)]


async def first_state(server: RunningServer, token: str, query: str, event: str) -> str:
    """The event id of the first state a subscription sends (graphql-transport-ws)."""
    async with open_socket(server.base_url, token) as socket:
        state = await socket.first_state(await socket.subscribe(query, {"id": event}))
        event_id: str = state["eventId"]
        return event_id


async def legacy_answer(
    server: RunningServer, token: str, query: str, event: str
) -> dict[str, Any]:
    """The first message a legacy graphql-ws client gets for `start`."""
    url = graphql_ws_url(server.base_url)
    async with connect(url, subprotocols=[Subprotocol("graphql-ws")], proxy=None) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": init_payload(token)}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        start = {"query": query, "variables": {"id": event}}
        await socket.send(json.dumps({"id": "1", "type": "start", "payload": start}))
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), 20))
            if message["type"] != "ka":
                answer: dict[str, Any] = message
                return answer


async def test_sockets_run_only_trusted_documents_except_for_admins(
    start_server: ServerLauncher, e2e_database_url: str, tmp_path: Path
) -> None:
    """Accounts and the event are made on an open server; the same database is then
    served with EVENTHUB_TRUSTED_DOCUMENTS_ONLY=1."""
    create_admin(e2e_database_url, tmp_path, "root@example.com")
    setup = await start_server()
    async with graphql_client(setup) as client:
        organizer = await client.register(organizer=True)
        admin = await client.login("root@example.com")
        event = (await create_event(client, organizer))["id"]
    setup.stop()
    server = await start_server(trusted_documents_only=1)

    assert await refused_codes(server, organizer.token, event) == ["FORBIDDEN"]
    assert await refused_codes(server, None, event) == ["FORBIDDEN"]
    assert await first_state(server, organizer.token, TRUSTED_SALES, event) == event
    assert await first_state(server, admin.token, IMPROVISED, event) == event

    legacy = await legacy_answer(server, organizer.token, IMPROVISED, event)
    assert legacy["type"] == "error"
    assert legacy["payload"]["extensions"]["code"] == "FORBIDDEN"
    legacy = await legacy_answer(server, organizer.token, TRUSTED_SALES, event)
    assert legacy["type"] == "data"
    assert legacy["payload"]["data"]["salesUpdated"]["eventId"] == event
