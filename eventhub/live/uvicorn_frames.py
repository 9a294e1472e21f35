"""The uvicorn adapter: its WebSocket protocol, plus one shortcut: write a whole text frame.

A live state goes to a thousand subscribers ten times a second. Through ASGI,
each of those messages costs a `send` coroutine, a message dict, websockets'
frame object and its serialisation before the socket write that is the only
part that differs per subscriber. `eventhub serve` runs this protocol, which
puts a `TextFrames` writer in each WebSocket's scope (under `TEXT_FRAMES`):
a `LiveSocket` (`sockets.py`) writes the frame's bytes itself.

The writer refuses (returns False) whenever the connection is not plainly open
and writable: closing, closed, or its write buffer over the high-water mark
(a slow reader). The caller then takes the ordinary ASGI send, which waits
for the buffer to drain, so backpressure and drop-to-latest work as before.
Under another server the scope has no writer and every message takes ASGI.

Frames go out uncompressed: a server may send any message without
permessage-deflate (RFC 7692, section 6), and compressing the same state once
per socket would cost more than it saves on a few hundred bytes.

This is the only module that knows uvicorn's internals: the protocol's
attributes named in `RELIES_ON` (tests/live/test_uvicorn_frames.py fails when
an installed uvicorn no longer has them).
"""

from __future__ import annotations

import struct
from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
from websockets.protocol import State

TEXT_FRAMES = "eventhub.websocket.text_frames"
_FIN_TEXT = 0x81  # FIN bit and opcode 1 (text); a server's frames are never masked
# What `open_for_frames` and `TextFrames.write` read of uvicorn's protocol object.
RELIES_ON = (
    "handshake_complete",
    "initial_response",
    "close_sent",
    "disconnected",
    "writable",
    "conn",
    "transport",
)


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked text frame (RFC 6455, section 5.2)."""
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", _FIN_TEXT, length)
    elif length < 1 << 16:
        header = struct.pack("!BBH", _FIN_TEXT, 126, length)
    else:
        header = struct.pack("!BBQ", _FIN_TEXT, 127, length)
    return header + payload


class TextFrames:
    """Writes text frames straight to one connection's transport, when that is safe."""

    __slots__ = ("_protocol",)

    def __init__(self, protocol: EventHubWebSocketProtocol) -> None:
        self._protocol = protocol

    def write(self, text: str) -> bool:
        """True once the frame is in the transport's buffer; False: send through ASGI instead."""
        protocol = self._protocol
        if not protocol.open_for_frames():
            return False
        protocol.transport.write(text_frame(text.encode()))
        return True


class EventHubWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O WebSocket protocol with a `TextFrames` writer in the scope."""

    def handle_connect(self, event: Any) -> None:
        super().handle_connect(event)
        scope = getattr(self, "scope", None)  # absent when the handshake was refused
        if scope is not None:
            scope["extensions"][TEXT_FRAMES] = TextFrames(self)

    def open_for_frames(self) -> bool:
        """Accepted, not closing, not a slow reader's full buffer, no message half-sent."""
        return (
            self.handshake_complete
            and self.initial_response is None
            and not self.close_sent
            and not self.disconnected
            and self.writable.is_set()
            and self.conn.state is State.OPEN
            and not self.conn.expect_continuation_frame
            and not self.transport.is_closing()
        )
