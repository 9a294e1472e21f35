"""The floor under live fan-out: what one WebSocket message costs with no GraphQL at all.

A bare ASGI app under uvicorn (the server `eventhub serve` runs: uvloop,
httptools, websockets-sansio) accepts `--subscribers` connections and, ten
times a second, sends each of them a message the size of a capacityChanged
state, from one task per connection as EventHub does. The subscribers are
bench/lean_ws.py clients in `--processes` processes. Printed: server and
client CPU per message. Compare with bench/fanout.py's figures to see how
much of EventHub's cost per message is its own and how much is uvicorn's send
and the kernel's loopback TCP.

    python bench/ws_floor.py                 # 1,000 subscribers, one server process
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import time
from typing import Any

from booking import free_port  # bench/ is sys.path[0]
from lean_ws import open_graphql_socket, read_in_batches

MESSAGE = (
    '{"id": "1", "type": "next", "payload": {"data": {"capacityChanged": {"eventId": '
    '"RXZlbnQ6MQ==", "sold": 123, "remaining": 877, "at": "2026-11-25T12:00:00.000000+00:00", '
    '"ticketTypes": [{"id": "VGlja2V0VHlwZTox", "sold": 41, "remaining": 292}, {"id": '
    '"VGlja2V0VHlwZToy", "sold": 41, "remaining": 292}, {"id": "VGlja2V0VHlwZToz", "sold": 41, '
    '"remaining": 293}]}}}}'
)
INTERVAL = 0.1


def serve(port: int, subscribers: int, rounds: int, results: Any) -> None:
    import uvicorn

    wakers: list[asyncio.Event] = []
    everyone: asyncio.Event | None = None

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                asyncio.get_running_loop().create_task(broadcast())
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await receive()
        await send({"type": "websocket.accept", "subprotocol": "graphql-transport-ws"})
        await receive()
        await send({"type": "websocket.send", "text": '{"type": "connection_ack"}'})
        woken = asyncio.Event()
        wakers.append(woken)
        if len(wakers) == subscribers and everyone is not None:
            everyone.set()
        while True:
            await woken.wait()
            woken.clear()
            await send({"type": "websocket.send", "text": MESSAGE})

    async def broadcast() -> None:
        nonlocal everyone
        everyone = asyncio.Event()
        await everyone.wait()
        await asyncio.sleep(1)
        started = time.process_time()
        for _ in range(rounds):
            for woken in wakers:
                woken.set()
            await asyncio.sleep(INTERVAL)
        results.put(("server", (time.process_time() - started) / (rounds * len(wakers))))

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", ws="websockets-sansio")


def listen(port: int, count: int, tick: float, seconds: float, results: Any) -> None:
    async def main() -> None:
        url = f"ws://127.0.0.1:{port}/graphql"
        sockets = [await open_graphql_socket(url, {}, within=60) for _ in range(count)]
        received = [0]

        def count_one(message: dict[str, Any], _now: float) -> None:
            assert message["payload"]["data"]["capacityChanged"]["sold"] == 123
            received[0] += 1

        for lean in sockets:
            lean.listen(count_one)
        if tick:
            read_in_batches(tick)  # as bench/fanout.py --client-tick
        started = time.process_time()
        await asyncio.sleep(seconds)
        results.put(("client", (time.process_time() - started) / max(received[0], 1)))

    import uvloop

    uvloop.run(main())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--processes", type=int, default=4, help="client processes")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--client-tick", type=float, default=0.005)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    port, rounds = free_port(), int(args.seconds / INTERVAL)
    server = context.Process(target=serve, args=(port, args.subscribers, rounds, results))
    server.start()
    time.sleep(2)
    per = args.subscribers // args.processes
    clients = [
        context.Process(
            target=listen, args=(port, per, args.client_tick, args.seconds + 3, results)
        )
        for _ in range(args.processes)
    ]
    for client in clients:
        client.start()
    figures: dict[str, list[float]] = {}
    for _ in range(len(clients) + 1):
        kind, seconds = results.get(timeout=120)
        figures.setdefault(kind, []).append(seconds)
    for client in clients:
        client.join()
    server.kill()  # its task of record is done; no graceful shutdown to wait for
    server.join()
    print(
        f"{args.subscribers} subscribers, {1 / INTERVAL:.0f} messages/s each, "
        f"{len(MESSAGE)} bytes: server {figures['server'][0] * 1e6:.1f} µs CPU per message "
        f"(uvicorn's send and the kernel's), clients "
        f"{sum(figures['client']) / len(figures['client']) * 1e6:.1f} µs per message "
        f"(client tick {args.client_tick * 1000:g} ms); load average {os.getloadavg()[0]:.2f}"
    )


if __name__ == "__main__":
    main()
