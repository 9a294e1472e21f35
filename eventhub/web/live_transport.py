"""graphql-transport-ws with live payloads encoded once per state (see schema/live_delivery.py).

Everything else is Strawberry's handler as it is: connection_init, auth,
errors, complete. This only gives each operation's task a `Delivery`, and
records the payload text of a `next` message when the subscription asked
for it, so that the operation's next subscribers send that text as it is.
A live `next` message goes out as a frame written straight to the socket
when the server offers that (`ws_protocol.py`), else through ASGI.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import Message

from eventhub.resolvers.context import RequestContext
from eventhub.schema.live_delivery import DELIVERY, Delivery
from eventhub.web.ws_protocol import TEXT_FRAMES, TextFrames

Handler = BaseGraphQLTransportWSHandler[RequestContext, None]


def next_message(operation_id: str, payload_text: str) -> str:
    """The `next` message around an already encoded payload."""
    return f'{{"id": {json.dumps(operation_id)}, "type": "next", "payload": {payload_text}}}'


class LiveTransportWSHandler(Handler):
    async def run_operation(self, operation: Operation[RequestContext, None]) -> None:
        # The operation runs in a task of its own: the variable is this operation's alone.
        if isinstance(self.websocket, ASGIWebSocketAdapter):
            prefix, send = next_message(operation.id, "")[:-1], self.websocket.ws.send
            extensions = self.websocket.ws.scope.get("extensions") or {}
            frames: TextFrames | None = extensions.get(TEXT_FRAMES)

            def write_now(payload_text: str) -> bool:
                return frames is not None and frames.write(prefix + payload_text + "}")

            async def send_payload(payload_text: str) -> None:  # once per message: kept flat
                text = prefix + payload_text + "}"
                if frames is not None and frames.write(text):
                    return
                try:
                    await send({"type": "websocket.send", "text": text})
                except WebSocketDisconnect as exc:  # as Strawberry's own send_json reports it
                    raise WebSocketDisconnected from exc

            DELIVERY.set(Delivery(send_payload, write_now if frames is not None else None))
        await super().run_operation(operation)

    async def send_message(self, message: Message) -> None:
        delivery = DELIVERY.get()
        recording = delivery.take_recording() if delivery is not None else None
        payload: Any = message.get("payload")
        if recording is None or message["type"] != "next" or set(payload) != {"data"}:
            await super().send_message(message)
            return
        text = self.view.encode_json(payload)
        if not isinstance(text, str):
            await super().send_message(message)
            return
        recording.store(text)
        assert delivery is not None  # this operation's: the message carries its id
        await delivery.send_payload(text)
