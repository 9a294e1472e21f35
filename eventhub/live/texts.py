"""Send a live state to a WebSocket subscriber as text encoded once, not once per subscriber.

With a thousand subscribers on one event, each state used to go through
GraphQL's per-result pipeline, a `json.dumps` and the ASGI send once per
subscriber: about 80 µs each, ten times a second per subscriber, on the same
cores as the bookings. A payload is built once per state (`State.memo`) and
its selection executed once per operation and variables (`execution.py`), so
the encoded `payload` of the `next` message is the same for every subscriber
running that operation with those variables: its text.

For each state, the first subscriber of a worker takes the full GraphQL path
and the web layer records the text it encoded (`send_recorded`); the others
send that text inside their own `next` message. Where the socket can take a
frame at once (`LiveSocket.write_frame`), the watch's task writes it for them
(`PayloadTexts.direct`) without waking theirs.

The web layer opts in by giving each operation's context a `LiveSocket`;
without one (GraphQL over HTTP, tests calling the schema directly) every
state takes the full path. Who may see the state was decided before it
reached the subscription, per subscriber, so nothing about the viewer is
skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from eventhub.live.sockets import LiveSocket
from eventhub.live.state import Memo, OperationKey, State


def operation_key(operation: object, variables: Mapping[str, Any]) -> OperationKey:
    """(the operation's id, its variables): what the payload's text depends on."""
    return id(operation), repr(sorted(variables.items()))


@dataclass
class TextRecording:
    """Where the web layer stores the payload text of the next `next` message it encodes."""

    memo: Memo
    key: OperationKey
    operation: object

    def store(self, text: str) -> None:
        self.memo.texts[self.key] = (self.operation, text)


class PayloadTexts:
    """One subscription's use of the texts its operation's other subscribers encoded.

    Made once per subscription, in the operation's own task: the operation and
    its variables never change.
    """

    def __init__(
        self, socket: LiveSocket | None, operation: object, variables: Mapping[str, Any]
    ) -> None:
        self.socket = socket
        self.operation = operation
        self.key = operation_key(operation, variables)
        self.task = asyncio.current_task()  # the operation's own

    def direct(self, state: State) -> bool:
        """Write the state's `next` message now, from the caller's task, if its text is known.

        Called by the watch while this subscription waits for a state. Never
        after the operation was cancelled (the client completed it, and may be
        reusing its id): that is the moment the handler calls `cancel()`.
        """
        socket, task = self.socket, self.task
        if socket is None or socket.write_frame is None or task is None or task.cancelling():
            return False
        text = state.memo.text(self.operation, self.key)
        return text is not None and socket.write_frame(text)

    async def sent(self, state: State) -> bool:
        """True when the state went out as text already encoded for this operation.

        False means: yield the payload (GraphQL runs); the web layer then records
        its encoded text for the subscribers after this one.
        """
        socket = self.socket
        if socket is None:
            return False
        text = state.memo.text(self.operation, self.key)
        if text is not None:
            await socket.send_text(text)
            return True
        socket.recording = TextRecording(state.memo, self.key, self.operation)
        return False


async def send_recorded(
    socket: LiveSocket, payload: Mapping[str, Any], encode: Callable[[object], str | bytes]
) -> bool:
    """Send a `next` payload as text, recording that text, if its subscription asked for it.

    False: nothing was sent; send the message the ordinary way.
    """
    recording = socket.take_recording()
    if recording is None or set(payload) != {"data"}:
        return False
    text = encode(payload)
    if not isinstance(text, str):
        return False
    recording.store(text)
    await socket.send_text(text)
    return True
