"""The legacy `graphql-ws` (subscriptions-transport-ws) protocol, for clients that offer only it.

Strawberry's handler runs subscriptions only: a query or mutation sent with
`start` (as gql's default WebSocket transport does) was refused inside and
masked as INTERNAL. Here every operation type runs, each with a context of its
own (see graphql_transport_ws.py), and a refused `connection_init` token gets
`connection_error` and the socket closed with the guard's code.
"""

from __future__ import annotations

import asyncio

from strawberry.subscriptions.protocols.graphql_ws.handlers import BaseGraphQLWSHandler
from strawberry.subscriptions.protocols.graphql_ws.types import (
    CompleteMessage,
    ConnectionErrorMessage,
    ConnectionInitMessage,
    ErrorMessage,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError

from eventhub.resolvers.context import RequestContext
from eventhub.web.graphql_transport_ws import socket_refusal
from eventhub.web.socket_tokens import SocketRefused


class LegacyWSHandler(BaseGraphQLWSHandler[RequestContext, None]):
    async def handle_connection_init(self, message: ConnectionInitMessage) -> None:
        try:
            await super().handle_connection_init(message)
        except SocketRefused as refused:
            error: dict[str, object] = {"message": refused.reason, "code": refused.code}
            await self.send_message(ConnectionErrorMessage(type="connection_error", payload=error))
            await self.websocket.close(code=refused.code, reason=refused.reason)

    async def handle_async_results(
        self,
        operation_id: str,
        query: str,
        operation_name: str | None,
        variables: dict[str, object] | None,
    ) -> None:
        """Strawberry's, with `stream` (any operation type) and the operation's own context."""
        context = self.context.for_operation()
        try:
            refusal = await socket_refusal(self.view, query, context)
            if refusal is not None:
                await self.send_message(
                    ErrorMessage(type="error", id=operation_id, payload=refusal)
                )
                return
            result_source = await self.schema.stream(
                query=query,
                variable_values=variables,
                operation_name=operation_name,
                context_value=context,
                root_value=self.root_value,
            )
            self.subscriptions[operation_id] = result_source
            is_first_result = True
            async for result in result_source:
                if is_first_result and isinstance(result, PreExecutionError):
                    assert result.errors
                    error = result.errors[0].formatted
                    await self.send_message(
                        ErrorMessage(type="error", id=operation_id, payload=error)
                    )
                    return
                if not isinstance(result, ExecutionResult):  # @defer/@stream: no such message
                    error = {"message": "incremental delivery is not supported over graphql-ws"}
                    await self.send_message(
                        ErrorMessage(type="error", id=operation_id, payload=error)
                    )
                    return
                await self.send_data_message(result, operation_id)
                is_first_result = False
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        except asyncio.CancelledError:
            await self.send_message(CompleteMessage(type="complete", id=operation_id))
        finally:
            self.subscriptions.pop(operation_id, None)
            self.tasks.pop(operation_id, None)
            await asyncio.shield(context.close())
