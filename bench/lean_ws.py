"""A minimal graphql-transport-ws client for the fan-out benchmark's 1,000 subscribers.

The subscribers stand for a thousand browsers on other machines, yet here they
share the server's two cores. Through the `websockets` library each received
message cost the subscriber processes about 45 µs (a reader task, a queue, a
waiting `recv`), as much as the server spent sending it, so the bench mostly
measured itself. This client parses frames in `data_received`, with no task
per message, and still decodes every message's JSON so the bench can check
what each subscriber holds.

Only what the bench needs: ws:// only, no extensions (no compression), text
frames; pings (WebSocket and graphql-transport-ws) are answered, a close ends
the connection. Frames the client sends are masked, as RFC 6455 requires.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import struct
import time
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import urlsplit

OP_CONTINUATION, OP_TEXT, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x8, 0x9, 0xA
Handler = Callable[[dict[str, Any], float], None]


def client_frame(opcode: int, payload: bytes) -> bytes:
    """A final, masked frame."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    mask = os.urandom(4)
    repeated = (mask * (length // 4 + 1))[:length]
    masked = (int.from_bytes(payload, "big") ^ int.from_bytes(repeated, "big")).to_bytes(
        length, "big"
    )
    return header + mask + masked


class LeanSocket(asyncio.Protocol):
    """One connection; `on_message(message, monotonic_time)` is called for each JSON message."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.fragments: list[bytes] = []
        self.upgraded = asyncio.get_running_loop().create_future()
        self.closed: asyncio.Future[Exception | None] = asyncio.get_running_loop().create_future()
        self.queued: list[dict[str, Any]] = []  # messages before anyone listens
        self.on_message: Handler | None = None

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        if self.buffer:  # the rest of a frame that came in pieces
            self.buffer += data
            data = bytes(self.buffer)
            self.buffer.clear()
        if not self.upgraded.done():
            end = data.find(b"\r\n\r\n")
            if end < 0:
                self.buffer += data
                return
            status = data.split(b"\r\n", 1)[0]
            if b" 101 " not in status + b" ":
                self.upgraded.set_exception(ConnectionError(status.decode(errors="replace")))
                return
            self.upgraded.set_result(None)
            data = data[end + 4 :]
        rest = self._frames(data, now)
        if rest < len(data):
            self.buffer += data[rest:]

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.upgraded.done():
            self.upgraded.set_exception(exc or ConnectionError("connection closed"))
        if not self.closed.done():  # a result, not an exception: nobody may be waiting
            self.closed.set_result(exc)

    # --- frames -------------------------------------------------------------------------------

    def _frames(self, data: bytes, now: float) -> int:
        """Handle the whole frames in `data`; returns where the first incomplete one starts."""
        start, size = 0, len(data)
        while size - start >= 2:
            first, second = data[start], data[start + 1]
            length, at = second & 0x7F, start + 2
            if second & 0x80:
                raise ConnectionError("the server masked a frame")
            if length == 126:
                if size - at < 2:
                    break
                (length,), at = struct.unpack_from("!H", data, at), at + 2
            elif length == 127:
                if size - at < 8:
                    break
                (length,), at = struct.unpack_from("!Q", data, at), at + 8
            if size - at < length:
                break
            self._frame(first & 0x0F, bool(first & 0x80), data[at : at + length], now)
            start = at + length
        return start

    def _frame(self, opcode: int, final: bool, payload: bytes, now: float) -> None:
        if opcode == OP_TEXT and final:
            self._message(json.loads(payload), now)
        elif opcode in (OP_TEXT, OP_CONTINUATION):
            self.fragments.append(payload)
            if final:
                text, self.fragments = b"".join(self.fragments), []
                self._message(json.loads(text), now)
        elif opcode == OP_PING:
            self.write(OP_PONG, payload)
        elif opcode == OP_CLOSE:
            if not self.closed.done():
                self.closed.set_result(ConnectionError(f"closed by the server: {payload!r}"))
            if self.transport is not None:
                self.transport.close()

    def _message(self, message: dict[str, Any], now: float) -> None:
        if message.get("type") == "ping":
            self.send_json({"type": "pong"})
        elif self.on_message is None:
            self.queued.append(message)
        else:
            self.on_message(message, now)

    # --- sending ------------------------------------------------------------------------------

    def write(self, opcode: int, payload: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(client_frame(opcode, payload))

    def send_json(self, message: dict[str, Any]) -> None:
        self.write(OP_TEXT, json.dumps(message).encode())

    def listen(self, on_message: Handler) -> None:
        """Hand every message (those that came already first) to `on_message`."""
        self.on_message = on_message
        queued, self.queued = self.queued, []
        for message in queued:
            on_message(message, time.monotonic())

    @property
    def local_port(self) -> int:
        assert self.transport is not None
        port: int = self.transport.get_extra_info("sockname")[1]
        return port

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


def read_in_batches(tick: float) -> None:
    """From now on, sleep `tick` once per turn of the running event loop, so that each turn
    finds many sockets ready instead of waking up for every message. Adds at most `tick`
    to when a message is handled; with a thousand sockets it saves ~40% of the CPU."""
    loop = asyncio.get_running_loop()

    def pause() -> None:
        time.sleep(tick)
        loop.call_soon(pause)

    pause()


async def open_graphql_socket(url: str, payload: dict[str, Any], within: float) -> LeanSocket:
    """Connect to a ws:// URL with graphql-transport-ws; returns after `connection_ack`."""
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    key = base64.b64encode(os.urandom(16)).decode()
    request = (
        f"GET {parts.path or '/'} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        "Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
    ).encode()
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(within):
        _transport, socket = await loop.create_connection(lambda: LeanSocket(request), host, port)
        await socket.upgraded
        acked = loop.create_future()
        socket.listen(lambda message, _now: acked.done() or acked.set_result(message))
        socket.send_json({"type": "connection_init", "payload": payload})
        answer = await acked
    if answer.get("type") != "connection_ack":
        socket.close()
        raise ConnectionError(f"not acknowledged: {answer}")
    socket.on_message = None
    return socket
