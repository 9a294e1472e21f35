"""graphql-transport-ws: each operation with a context of its own, live payloads encoded once.

Every operation runs with a `RequestContext` of its own (`for_operation`): its
own session, loaders and viewer, closed when the operation ends, so completing
one operation, even mid-query, never breaks another on the same socket. A
`connection_init` whose token is refused closes the socket (`socket_tokens.py`).

Each operation's context also gets a `LiveSocket`, and the handler records
the payload text of a `next` message when the subscription asked for it, so
that the operation's next subscribers send that text as it is (see
eventhub/live/texts.py).
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Protocol, cast

from graphql import GraphQLFormattedError
from strawberry.asgi import ASGIWebSocketAdapter
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
    _OperationStreamClosed,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import (
    CompleteMessage,
    ConnectionInitMessage,
    ErrorMessage,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from eventhub.live.sockets import LiveSocket, asgi_socket
from eventhub.live.texts import send_recorded
from eventhub.resolvers.context import RequestContext
from eventhub.web.socket_tokens import SocketRefused

if TYPE_CHECKING:
    from strawberry.schema.schema import StreamResult

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


class GraphQLTransportWSHandler(Handler):
    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except SocketRefused as refused:
            await self.websocket.close(code=refused.code, reason=refused.reason)

    async def run_operation(self, operation: Operation[RequestContext, None]) -> None:
        socket = None
        if isinstance(self.websocket, ASGIWebSocketAdapter):
            socket = asgi_socket(self.websocket.ws, operation.id)
        context = self.context.for_operation(socket)
        try:
            await self._stream(operation, context, socket)
        finally:
            await asyncio.shield(context.close())  # even when the client completed it

    async def _stream(
        self,
        operation: Operation[RequestContext, None],
        context: RequestContext,
        socket: LiveSocket | None,
    ) -> None:
        """Strawberry's `run_operation`, with the operation's own context and socket."""
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
                await self._send_results(operation, result_source, socket)
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

    async def _send_results(
        self,
        operation: Operation[RequestContext, None],
        result_source: StreamResult,
        socket: LiveSocket | None,
    ) -> None:
        """Strawberry's `_send_result_stream`, with a `next` whose text the subscription
        asked to record sent as that text."""
        is_first_result = True
        async for result in result_source:
            if is_first_result and isinstance(result, PreExecutionError):
                await self._handle_pre_execution_error(operation, result)
                return
            if not isinstance(result, ExecutionResult):
                await self._reject_incremental_delivery(operation)
                return
            if (
                socket is None
                or socket.recording is None  # the subscription asked for no text
                or operation.completed
                or not await send_recorded(socket, _next_payload(result), self.view.encode_json)
            ):
                await operation.send_next(result)
            is_first_result = False


def _next_payload(result: ExecutionResult) -> dict[str, object]:
    """The `next` message's payload, as Strawberry's `Operation.send_next` makes it."""
    payload: dict[str, object] = {"data": result.data}
    if result.errors:
        payload["errors"] = [error.formatted for error in result.errors]
    if result.extensions:
        payload["extensions"] = result.extensions
    return payload
