"""One subscription operation's WebSocket, as the live package writes texts to it.

A `next` message is the payload's text inside a fixed envelope, so it is
assembled by concatenation. It goes out as a frame written straight to the
socket when the server offers that (`uvicorn_frames.py`), else through ASGI.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected

from eventhub.live.uvicorn_frames import TEXT_FRAMES, TextFrames

if TYPE_CHECKING:
    from eventhub.live.texts import TextRecording


def next_message(operation_id: str, payload_text: str) -> str:
    """The `next` message around an already encoded payload."""
    return f'{{"id": {json.dumps(operation_id)}, "type": "next", "payload": {payload_text}}}'


@dataclass
class LiveSocket:
    """One subscription operation's way to its WebSocket, made by the web layer.

    `send_text` sends a payload text's `next` message. `write_frame`, where the
    server allows, writes it at once without awaiting: False when it cannot (a
    closing socket, a full buffer). `recording`: where the next payload text this
    operation encodes is to be kept (texts.py).
    """

    send_text: Callable[[str], Awaitable[None]]
    write_frame: Callable[[str], bool] | None = None
    recording: TextRecording | None = None

    def take_recording(self) -> TextRecording | None:
        recording, self.recording = self.recording, None
        return recording


def asgi_socket(websocket: WebSocket, operation_id: str) -> LiveSocket:
    """The operation's socket over an ASGI WebSocket, with frames when the server has them."""
    prefix, send = next_message(operation_id, "")[:-1], websocket.send
    extensions = websocket.scope.get("extensions") or {}
    frames: TextFrames | None = extensions.get(TEXT_FRAMES)

    def write_frame(payload_text: str) -> bool:
        return frames is not None and frames.write(prefix + payload_text + "}")

    async def send_text(payload_text: str) -> None:  # once per message: kept flat
        text = prefix + payload_text + "}"
        if frames is not None and frames.write(text):
            return
        try:
            await send({"type": "websocket.send", "text": text})
        except WebSocketDisconnect as exc:  # as Strawberry's own send_json reports it
            raise WebSocketDisconnected from exc

    return LiveSocket(send_text, write_frame if frames is not None else None)
