"""A real `eventhub serve` drops slow clients and refuses greedy ones.

Raw TCP clients play the attacker: headers trickled a line at a time
(slowloris), a connection that says nothing, endless headers, a body that
stops arriving, a body declared far too large, a WebSocket message over the
cap. Each test asserts what the server answered and that it closed the
connection while the client was still going; the clients never stop on their
own, so a server that holds them fails the test (after a generous bound, not a
tuned sleep). Short deadlines are configured so the suite stays quick.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from eventhub.web.http_protocol import MAX_HEADER_BYTES
from tests.support.ws import PROTOCOL, WAIT, SharedServer, graphql_ws_url, shared_server

pytestmark = pytest.mark.e2e

HEADER_TIMEOUT = 1.0
BODY_TIMEOUT = 2.0
WS_MESSAGE_BYTES = 4096
SLOW_CLIENTS = 20
JSON = {"content-type": "application/json"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def live(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[SharedServer]:
    folder = tmp_path_factory.mktemp(f"slow-{request.param}")
    async with shared_server(
        request,
        Path(folder),
        request.param,
        workers=1,
        http_header_timeout=HEADER_TIMEOUT,
        http_body_timeout=BODY_TIMEOUT,
        http_keep_alive_timeout=1,
        max_ws_message_bytes=WS_MESSAGE_BYTES,
    ) as shared:
        yield shared


@contextlib.asynccontextmanager
async def raw_connection(
    live: SharedServer,
) -> AsyncIterator[tuple[asyncio.StreamReader, asyncio.StreamWriter]]:
    address = urlsplit(live.server.base_url)
    reader, writer = await asyncio.open_connection(address.hostname, address.port)
    try:
        yield reader, writer
    finally:
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()


async def trickle_until_closed(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, lines: AsyncIterator[bytes]
) -> tuple[bytes, int]:
    """Send `lines` one by one until the server closes; (what it answered, lines sent)."""
    answer = asyncio.create_task(reader.read())  # until EOF
    sent = 0
    async with asyncio.timeout(WAIT):
        async for line in lines:
            if answer.done():
                break
            with contextlib.suppress(ConnectionError):
                writer.write(line)
                await writer.drain()
                sent += 1
        return await answer, sent


async def forever(line: bytes, pause: float = 0.1) -> AsyncIterator[bytes]:
    """The same line again and again, a little apart, as a slow client sends."""
    while True:
        yield line
        await asyncio.sleep(pause)


async def slowloris(live: SharedServer) -> tuple[bytes, int]:
    async with raw_connection(live) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: eventhub\r\n")
        return await trickle_until_closed(reader, writer, forever(b"X-Slow: still here\r\n"))


async def test_slowloris_connections_are_answered_408_and_closed(live: SharedServer) -> None:
    results = await asyncio.gather(*(slowloris(live) for _ in range(SLOW_CLIENTS)))
    for answer, lines_sent in results:
        assert answer.startswith(b"HTTP/1.1 408 "), answer
        # Closed while the client was still sending: it never finished its headers.
        assert lines_sent >= 1
    async with httpx.AsyncClient(base_url=live.server.base_url) as http:
        assert (await http.get("/healthz")).status_code == 200


async def test_a_connection_that_never_speaks_is_closed(live: SharedServer) -> None:
    async with raw_connection(live) as (reader, _writer):
        async with asyncio.timeout(WAIT):
            answer = await reader.read()
    assert answer.startswith(b"HTTP/1.1 408 "), answer


async def test_an_idle_keep_alive_connection_is_closed(live: SharedServer) -> None:
    async with raw_connection(live) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: eventhub\r\n\r\n")
        async with asyncio.timeout(WAIT):
            answer = await reader.read()  # the response, then EOF once idle
    assert answer.startswith(b"HTTP/1.1 200 "), answer


async def test_endless_headers_are_refused_431_at_the_cap(live: SharedServer) -> None:
    line = b"X-Big: " + b"a" * 1000 + b"\r\n"
    async with raw_connection(live) as (reader, writer):
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: eventhub\r\n")
        answer, lines_sent = await trickle_until_closed(reader, writer, forever(line, 0))
    assert answer.startswith(b"HTTP/1.1 431 "), answer
    # The server stopped reading at the cap; what the client pushed into the socket's
    # buffers meanwhile is bounded by them, not by its patience.
    assert lines_sent * len(line) < MAX_HEADER_BYTES + 16 * 1024 * 1024


async def test_a_declared_oversized_body_is_refused_before_a_byte_of_it_is_sent(
    live: SharedServer,
) -> None:
    async with raw_connection(live) as (reader, writer):
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: eventhub\r\ncontent-type: application/json\r\n"
            b"content-length: 20971520\r\n\r\n"
        )
        status, body = await response_of(reader)
    assert status == 413
    assert body["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def response_of(reader: asyncio.StreamReader) -> tuple[int, Any]:
    """The status and JSON body of one response (the connection may stay open)."""
    async with asyncio.timeout(WAIT):
        head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:] if line)
        body = await reader.readexactly(int(headers["content-length"]))
    return int(lines[0].split()[1]), json.loads(body)


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_client_that_writes_its_whole_oversized_body_first_reads_the_413(
    live: SharedServer, chunked: bool
) -> None:
    """httpx, like most clients, sends the whole body before reading: it must get the answer,
    not a reset, and its connection serves the next request."""
    body = json.dumps({"query": "{ __typename } #" + "x" * 4_000_000}).encode()

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 65_536):
            yield body[start : start + 65_536]

    limits = httpx.Limits(max_connections=1)
    async with httpx.AsyncClient(base_url=live.server.base_url, limits=limits) as http:
        content = pieces() if chunked else body
        refused = await http.post("/graphql", content=content, headers=JSON)
        after = await http.post("/graphql", json={"query": "{ __typename }"})
    assert refused.status_code == 413, refused.text
    assert refused.json()["errors"][0]["extensions"]["code"] == "PAYLOAD_TOO_LARGE"
    assert after.json() == {"data": {"__typename": "Query"}}


async def test_a_body_that_stops_arriving_is_answered_408(live: SharedServer) -> None:
    async with raw_connection(live) as (reader, writer):
        writer.write(
            b"POST /graphql HTTP/1.1\r\nHost: eventhub\r\ncontent-type: application/json\r\n"
            b'content-length: 100\r\n\r\n{"query": '
        )
        status, body = await response_of(reader)
    assert status == 408
    assert body["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"


async def read_until_closed(socket: ClientConnection) -> None:
    with contextlib.suppress(ConnectionClosed):
        while True:
            await socket.recv()


async def test_a_websocket_message_over_the_cap_closes_the_socket_with_1009(
    live: SharedServer,
) -> None:
    async with connect(
        graphql_ws_url(live.server.base_url), subprotocols=[PROTOCOL], proxy=None
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        padding = "x" * WS_MESSAGE_BYTES
        await socket.send(json.dumps({"type": "ping", "payload": {"padding": padding}}))
        async with asyncio.timeout(WAIT):
            await read_until_closed(socket)
    assert socket.close_code == 1009


async def test_a_websocket_outlives_the_header_deadline(live: SharedServer) -> None:
    """The deadline is the handshake's: an open socket is not a slow request."""
    async with connect(
        graphql_ws_url(live.server.base_url), subprotocols=[PROTOCOL], proxy=None
    ) as socket:
        await socket.send(json.dumps({"type": "connection_init", "payload": {}}))
        assert json.loads(await socket.recv())["type"] == "connection_ack"
        await asyncio.sleep(3 * HEADER_TIMEOUT)  # the scenario: well past the header deadline
        await socket.send(json.dumps({"type": "ping"}))
        async with asyncio.timeout(WAIT):
            assert json.loads(await socket.recv())["type"] == "pong"
