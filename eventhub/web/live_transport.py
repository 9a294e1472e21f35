"""graphql-transport-ws: each operation with a context of its own, live payloads encoded once.

Every operation runs with a `RequestContext` of its own (`for_operation`): its
own session, loaders and viewer, closed when the operation ends, so completing
one operation, even mid-query, never breaks another on the same socket. A
`connection_init` whose token is refused closes the socket (`socket_tokens.py`).

Each operation's task also gets a `Delivery`, and the handler records the
payload text of a `next` message when the subscription asked for it, so that
the operation's next subscribers send that text as it is (see
schema/live_delivery.py). A live `next` message goes out as a frame written
straight to the socket when the server offers that (`ws_protocol.py`), else
through ASGI.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any, Protocol, cast

from graphql import GraphQLFormattedError
from starlette.websockets import WebSocketDisconnect
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
    ErrorMessage,
    Message,
)
from strawberry.utils.aio import aclosing

from eventhub.resolvers.context import RequestContext
from eventhub.schema.live_delivery import DELIVERY, Delivery
from eventhub.web.socket_tokens import SocketRefused
from eventhub.web.ws_protocol import TEXT_FRAMES, TextFrames

Handler = BaseGraphQLTransportWSHandler[RequestContext, None]


class DocumentGate(Protocol):
    """What both socket handlers ask the view (graphql_view.py) before running a document."""

    async def refuse_socket_document(
        self, query: str, context: RequestContext
    ) -> GraphQLFormattedError | None: ...


async def socket_refusal(
    view: object, query: str, context: RequestContext
) -> GraphQLFormattedError | None:
    return await cast(DocumentGate, view).refuse_socket_document(query, context)


def next_message(operation_id: str, payload_text: str) -> str:
    """The `next` message around an already encoded payload."""
    return f'{{"id": {json.dumps(operation_id)}, "type": "next", "payload": {payload_text}}}'


class LiveTransportWSHandler(Handler):
    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except SocketRefused as refused:
            await self.websocket.close(code=refused.code, reason=refused.reason)

    async def run_operation(self, operation: Operation[RequestContext, None]) -> None:
        # The operation runs in a task of its own: the variable is this operation's alone.
        self._set_delivery(operation)
        context = self.context.for_operation()
        try:
            await self._stream(operation, context)
        finally:
            await asyncio.shield(context.close())  # even when the client completed it

    async def _stream(
        self, operation: Operation[RequestContext, None], context: RequestContext
    ) -> None:
        """Strawberry's `run_operation`, with the operation's own context."""
        refusal = await socket_refusal(self.view, operation.query, context)
        if refusal is not None:
            await operation.send_operation_message(
                ErrorMessage(id=operation.id, type="error", payload=[refusal])
            )
            self.operations.pop(operation.id, None)
            return
        try:
            result_source = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            async with aclosing(result_source):
                await self._send_result_stream(operation, result_source)
            await operation.send_operation_message(
                CompleteMessage(id=operation.id, type="complete")
            )
        except _OperationStreamClosed:
            return
        except Exception as error:
            await self.handle_task_exception(error)
            with contextlib.suppress(Exception):
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
            self.operations.pop(operation.id, None)
            raise

    def _set_delivery(self, operation: Operation[RequestContext, None]) -> None:
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
