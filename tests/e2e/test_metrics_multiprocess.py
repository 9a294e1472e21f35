"""/metrics on a real 2-worker server sums what every worker counted.

Each uvicorn worker is its own process with its own counters; prometheus-client's
multiprocess mode has each write them to files in PROMETHEUS_MULTIPROC_DIR and
/metrics (answered by whichever worker gets the scrape) merges the files. The test
points that folder somewhere it can read, so it can also see what each worker
counted on its own (one counter file per worker process) and prove that both
served some of the requests.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.multiprocess import MultiProcessCollector
from websockets.asyncio.client import ClientConnection, connect

from tests.api.test_metrics import Scrape
from tests.e2e.conftest import RunningServer, ServerLauncher, graphql_client
from tests.support.factories import create_event

pytestmark = pytest.mark.e2e

WORKERS = 2
BATCH = 20  # requests sent at once, each on a new connection, so the kernel spreads them
MIN_BATCHES, MAX_BATCHES = 2, 10  # at least 40 requests; more until both workers served
EVENT = "query($id: ID!) { event(id: $id) { name } }"
OPERATION = {"operation": "event", "type": "query", "outcome": "ok"}


async def scrape(server: RunningServer) -> Scrape:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as http:
        response = await http.get("/metrics")
    assert response.status_code == 200
    return Scrape(response.text)


def per_worker(folder: Path, scratch: Path, kind: str) -> dict[str, Scrape]:
    """{file: what that one worker process wrote}, for the `kind` files ("counter",
    "gauge_livesum"); the server keeps them in `folder` or in a fresh folder inside it."""
    seen = {}
    for path in sorted(folder.rglob(f"{kind}_*.db")):
        alone = scratch / path.stem
        alone.mkdir(parents=True)
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))  # type: ignore[no-untyped-call]
        seen[path.name] = Scrape(generate_latest(registry).decode())
    return seen


def per_worker_counts(folder: Path, scratch: Path) -> dict[str, float]:
    """{counter file: the `event` queries that one worker answered}."""
    return {
        name: seen.value("eventhub_graphql_operations_total", **OPERATION)
        for name, seen in per_worker(folder, scratch, "counter").items()
    }


async def send_batch(server: RunningServer, event_id: str) -> None:
    """BATCH queries at once, each on its own TCP connection."""
    limits = httpx.Limits(max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.base_url, limits=limits, timeout=30) as http:

        async def one() -> None:
            body = {"query": EVENT, "variables": {"id": event_id}}
            response = await http.post("/graphql", json=body, headers={"connection": "close"})
            assert response.status_code == 200
            assert response.json()["data"]["event"]["name"]

        await asyncio.gather(*(one() for _ in range(BATCH)))


async def test_metrics_sum_the_counts_of_every_worker(
    start_server: ServerLauncher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "prometheus"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))  # inherited by the server
    server = await start_server(workers=WORKERS)
    async with graphql_client(server, connections=5) as client:
        organizer = await client.register(organizer=True)
        event = await create_event(client, organizer)
    before = await scrape(server)
    assert before.families["eventhub_graphql_operations"].type == "counter"

    sent, batches = 0, 0
    workers: dict[str, float] = {}
    while batches < MIN_BATCHES or (
        batches < MAX_BATCHES and sum(1 for n in workers.values() if n > 0) < WORKERS
    ):
        await send_batch(server, event["id"])
        sent, batches = sent + BATCH, batches + 1
        workers = per_worker_counts(folder, tmp_path / f"scratch{batches}")
    after = await scrape(server)

    served = {name: n for name, n in workers.items() if n > 0}
    assert len(served) == WORKERS, f"after {sent} requests only {served} answered"
    total = "eventhub_graphql_operations_total"
    assert after.value(total, **OPERATION) - before.value(total, **OPERATION) == sent
    assert after.value(total, **OPERATION) == sum(served.values())  # the sum of the workers'
    latency = "eventhub_graphql_operation_seconds_count"
    assert after.value(latency, operation="event", type="query") == sent


SUBSCRIBE = "subscription($id: ID!) { capacityChanged(eventId: $id) { sold } }"
OPEN = ("eventhub_subscriptions_open", "capacityChanged")


async def subscribe(stack: AsyncExitStack, server: RunningServer, event_id: str) -> None:
    """One capacityChanged subscription, held open until `stack` closes."""
    url = server.base_url.replace("http://", "ws://") + "/graphql"
    socket: ClientConnection = await stack.enter_async_context(
        connect(url, subprotocols=["graphql-transport-ws"])  # type: ignore[list-item]
    )
    await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
    assert json.loads(await socket.recv())["type"] == "connection_ack"
    payload = {"query": SUBSCRIBE, "variables": {"id": event_id}}
    await socket.send(json.dumps({"id": "1", "type": "subscribe", "payload": payload}))
    assert json.loads(await socket.recv())["type"] == "next"


async def open_subscriptions(server: RunningServer) -> float:
    return (await scrape(server)).value(OPEN[0], field=OPEN[1])


@pytest.mark.parametrize("e2e_database_url", ["sqlite"], indirect=True)  # not about the database
async def test_a_dead_workers_subscriptions_are_no_longer_counted_open(
    start_server: ServerLauncher, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "prometheus"
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    server = await start_server(workers=WORKERS)
    async with graphql_client(server, connections=5) as client:
        event = await create_event(client, await client.register(organizer=True))
    async with AsyncExitStack() as stack:
        for _ in range(3):
            await subscribe(stack, server, event["id"])
        assert await open_subscriptions(server) == 3  # summed over the live workers
        holders = [
            int(name.removesuffix(".db").rsplit("_", 1)[1])
            for name, seen in per_worker(folder, tmp_path / "gauges", "gauge_livesum").items()
            if seen.value(OPEN[0], field=OPEN[1]) > 0
        ]
        assert holders
        os.kill(holders[0], signal.SIGKILL)  # a worker dies with subscriptions open
    # every client has gone: the dead worker's and the closed ones alike
    for _ in range(75):  # closing ends each subscription asynchronously: up to 15 s
        if not (still_open := await open_subscriptions(server)):
            break
        await asyncio.sleep(0.2)
    assert still_open == 0
