"""Send a live state to a WebSocket subscriber as text encoded once, not once per subscriber.

With a thousand subscribers on one event, each state used to go through
GraphQL's per-result pipeline, a `json.dumps` and the ASGI send once per
subscriber: about 80 µs each, ten times a second per subscriber, on the same
cores as the bookings. A shared payload (see `shared_execution.py`) is the
same for every subscriber running the same operation with the same variables,
so its encoded `payload` is too. For each state, the first subscriber of a
worker takes the full GraphQL path and the transport records the text it
encoded; the others send that text inside their own `next` message. Where
the transport can write a frame at once (`Delivery.write_now`), the live hub
does that for them from its own task (`SharedText.express`), without waking
theirs.

The transport (the WebSocket handler, in `web/`) opts in by setting
`DELIVERY` in each operation's task; without it (GraphQL over HTTP, tests
calling the schema directly) every state takes the full path. Who may see
the state was decided before it reached the subscription, per subscriber,
so nothing about the viewer is skipped.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from strawberry.types import Info

from eventhub.services.live_state import LiveState

TEXTS_KEY = "encoded_payloads"
OperationKey = tuple[int, str]


@dataclass
class Recording:
    """Where the transport stores the payload text of the next `next` message it encodes."""

    texts: dict[OperationKey, tuple[object, str]]
    key: OperationKey
    operation: object

    def store(self, text: str) -> None:
        self.texts[self.key] = (self.operation, text)


@dataclass
class Delivery:
    """One subscription operation's way to its WebSocket, set by the transport.

    `write_now`, where the transport can, writes a payload's `next` message at once,
    without awaiting: False when it cannot (a closing socket, a full buffer).
    """

    send_payload: Callable[[str], Awaitable[None]]
    write_now: Callable[[str], bool] | None = None
    recording: Recording | None = None

    def take_recording(self) -> Recording | None:
        recording, self.recording = self.recording, None
        return recording


DELIVERY: ContextVar[Delivery | None] = ContextVar("eventhub_live_delivery", default=None)


def operation_key(info: Info[Any, Any]) -> tuple[object, OperationKey]:
    """The operation node and (its id, its variables): what the payload's text depends on.

    The node is kept beside the text and compared by identity, so a recycled id
    (a document evicted from the parser cache) can never pick up another's text.
    """
    operation = info.operation
    variables = repr(sorted(info.variable_values.items()))
    return operation, (id(operation), variables)


class SharedText:
    """One subscription's use of the texts its operation's other subscribers encoded.

    Made once per subscription: the operation and its variables never change.
    """

    def __init__(self, info: Info[Any, Any]) -> None:
        self.delivery = DELIVERY.get()
        self.operation, self.key = operation_key(info)
        self.task = asyncio.current_task()  # the operation's own

    def _known_text(self, state: LiveState) -> str | None:
        texts: dict[OperationKey, tuple[object, str]] | None = state.shared.get(TEXTS_KEY)
        known = texts.get(self.key) if texts is not None else None
        return known[1] if known is not None and known[0] is self.operation else None

    def express(self, state: LiveState) -> bool:
        """Write the state's `next` message now, from the caller's task, if its text is known.

        Called by the live hub while this subscription waits for a state. Never
        after the operation was cancelled (the client completed it, and may be
        reusing its id): that is the moment the transport calls `cancel()`.
        """
        delivery, task = self.delivery, self.task
        if delivery is None or delivery.write_now is None or task is None or task.cancelling():
            return False
        text = self._known_text(state)
        return text is not None and delivery.write_now(text)

    async def sent(self, state: LiveState) -> bool:
        """True when the state went out as text already encoded for this operation.

        False means: yield the payload (GraphQL runs); the transport then records
        its encoded text for the subscribers after this one.
        """
        delivery = self.delivery
        if delivery is None:
            return False
        text = self._known_text(state)
        if text is not None:
            await delivery.send_payload(text)
            return True
        texts: dict[OperationKey, tuple[object, str]] = state.shared.setdefault(TEXTS_KEY, {})
        delivery.recording = Recording(texts, self.key, self.operation)
        return False
