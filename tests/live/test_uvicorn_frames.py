"""The WebSocket protocol `eventhub serve` runs: text frames written straight to the socket.

First, the adapter's contract with uvicorn: the private attributes it reads must
exist in the installed uvicorn, or this module fails with their names.

A real uvicorn server on 127.0.0.1 with a small ASGI app that writes through the
scope's `TextFrames`, and the `websockets` client, which negotiates
permessage-deflate as browsers do: the frames must arrive whole and in order
among ordinary ASGI sends, at every header size, and the writer must refuse
(so the caller falls back to ASGI) once the reader stops reading or the
connection closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
from collections.abc import AsyncIterator
from typing import Any

import pytest
import uvicorn
import websockets
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from uvicorn.server import ServerState
from websockets.frames import Frame, Opcode
from websockets.protocol import State
from websockets.streams import StreamReader

from eventhub.live.uvicorn_frames import (
    RELIES_ON,
    TEXT_FRAMES,
    EventHubWebSocketProtocol,
    TextFrames,
    text_frame,
)

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 200_000]  # bytes: each header form's bounds


class OpenTransport:
    """An asyncio transport that is never closing (only what `open_for_frames` asks)."""

    def is_closing(self) -> bool:
        return False


async def test_the_installed_uvicorn_still_has_what_the_frame_writer_relies_on() -> None:
    """Fails with the names uvicorn dropped: the writer reads its protocol's private state."""
    assert "handle_connect" in vars(WebSocketsSansIOProtocol), (
        f"uvicorn {uvicorn.__version__}: WebSocketsSansIOProtocol.handle_connect is gone; "
        "the frame writer is never put in the scope (eventhub/live/uvicorn_frames.py)"
    )
    config = uvicorn.Config(FrameApp(), ws=EventHubWebSocketProtocol)
    config.load()
    protocol = EventHubWebSocketProtocol(config, ServerState(), {})
    missing = [name for name in RELIES_ON if not hasattr(protocol, name)]
    missing += [
        f"conn.{name}"
        for name in ("state", "expect_continuation_frame")
        if not hasattr(protocol.conn, name)
    ]
    assert not missing, (
        f"uvicorn {uvicorn.__version__} no longer has {missing}: "
        "update eventhub/live/uvicorn_frames.py (or pin uvicorn)"
    )
    protocol.transport = OpenTransport()  # type: ignore[assignment]  # only is_closing is read
    protocol.handshake_complete = True
    protocol.conn.state = State.OPEN
    assert protocol.open_for_frames()  # every condition read, each as the writer expects
    protocol.close_sent = True
    assert not protocol.open_for_frames()


@pytest.mark.parametrize("size", SIZES)
def test_a_text_frame_parses_back_to_its_text_at_every_header_size(size: int) -> None:
    text = "x" * size
    reader = StreamReader()
    reader.feed_data(text_frame(text.encode()))
    parser = Frame.parse(reader.read_exact, mask=False)
    with pytest.raises(StopIteration) as done:
        next(parser)  # the whole frame is in the reader: the parser returns at once
    frame = done.value.value
    assert (frame.opcode, frame.fin, frame.rsv1) == (Opcode.TEXT, True, False)
    assert frame.data.decode() == text


class FrameApp:
    """Sends what each incoming command says, and reports what its writer answered."""

    def __init__(self) -> None:
        self.writers: list[TextFrames | None] = []
        self.refused = asyncio.Event()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        assert scope["type"] == "websocket"
        await receive()
        await send({"type": "websocket.accept"})
        frames = scope["extensions"].get(TEXT_FRAMES)
        self.writers.append(frames)
        with contextlib.suppress(OSError):  # uvicorn's ClientDisconnected, once the reader left
            while (message := await receive())["type"] == "websocket.receive":
                await self.obey(json.loads(message["text"]), frames, send)

    async def obey(self, command: dict[str, Any], frames: TextFrames | None, send: Any) -> None:
        """With `mixed`, every other message through ASGI; the rest through the writer.

        A refused frame goes through ASGI when mixed; otherwise the app stops there,
        as an ASGI send would wait for a reader that never reads.
        """
        for n in range(command["count"]):
            text = json.dumps({"n": n, "pad": "é" * command["size"]}, ensure_ascii=False)
            if command["mixed"] and n % 2:
                await send({"type": "websocket.send", "text": text})
            elif frames is None or not frames.write(text):
                self.refused.set()
                if not command["mixed"]:
                    return
                await send({"type": "websocket.send", "text": text})
            await asyncio.sleep(0)


@contextlib.asynccontextmanager
async def serving(app: FrameApp) -> AsyncIterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, ws=EventHubWebSocketProtocol, log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    while not server.started:  # uvicorn offers no event for it  # noqa: ASYNC110
        await asyncio.sleep(0.01)
    try:
        yield f"ws://127.0.0.1:{port}/"
    finally:
        server.should_exit = True
        await task


async def test_frames_arrive_whole_and_in_order_among_asgi_sends_with_deflate_negotiated() -> None:
    app = FrameApp()
    async with serving(app) as url, websockets.connect(url) as client:
        assert "permessage-deflate" in (client.response.headers.get("Sec-WebSocket-Extensions"))
        for size in (10, 200, 70_000):
            await client.send(json.dumps({"count": 6, "size": size, "mixed": True}))
            got = [json.loads(await client.recv()) for _ in range(6)]
            assert [m["n"] for m in got] == list(range(6))
            assert all(len(m["pad"]) == size for m in got)
    assert len(app.writers) == 1
    assert app.writers[0] is not None
    assert not app.refused.is_set()


async def test_the_writer_refuses_a_reader_that_stopped_reading_and_a_closed_connection() -> None:
    app = FrameApp()
    async with serving(app) as url:
        client = await websockets.connect(url, max_queue=1)
        # The client reads nothing: the server's buffer passes its high-water mark, the
        # writer refuses, and the app falls back to ASGI (which waits for the buffer).
        await client.send(json.dumps({"count": 4000, "size": 100_000, "mixed": False}))
        await asyncio.wait_for(app.refused.wait(), 10)
        client.transport.abort()
        writer = app.writers[0]
        assert writer is not None
        for _ in range(100):
            if not writer.write("late"):
                break
            await asyncio.sleep(0.02)
        assert not writer.write("late")
