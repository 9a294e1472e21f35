"""GraphQL over HTTP and WebSocket, with one database session per request (per operation
on a WebSocket)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from graphql import GraphQLFormattedError
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.unset import UnsetType

from eventhub.resolvers.context import RequestContext
from eventhub.web.app_state import AppState
from eventhub.web.graphql_requests import Operation, RequestError
from eventhub.web.graphql_transport_ws import GraphQLTransportWSHandler
from eventhub.web.legacy_ws import LegacyWSHandler
from eventhub.web.persisted_queries import PersistedQueries
from eventhub.web.socket_tokens import TokenGuard

CONTEXT_KEY = "eventhub_context"


class EventHubGraphQL(GraphQL[RequestContext, None]):
    graphql_transport_ws_handler_class = GraphQLTransportWSHandler
    graphql_ws_handler_class = LegacyWSHandler

    def __init__(
        self,
        schema: Any,
        state: AppState,
        origins: Sequence[str] = (),
        guard: TokenGuard | None = None,
        persisted: PersistedQueries | None = None,
    ) -> None:
        super().__init__(
            schema,
            graphql_ide="graphiql",
            allow_queries_via_get=True,
            multipart_uploads_enabled=True,
            keep_alive=True,
            keep_alive_interval=15,
            allowed_origins=origins,  # browser pages on EVENTHUB_CORS_ORIGINS may open sockets
            # more on one socket get an `error` message (see web/socket_guard.py)
            max_subscriptions_per_connection=state.settings.max_subscriptions_per_socket,
        )
        self.state = state
        self.guard = guard or TokenGuard(state.codec, state.session_factory)
        self.persisted = persisted

    async def refuse_socket_document(
        self, query: str, context: RequestContext
    ) -> GraphQLFormattedError | None:
        """The GraphQL error a socket operation gets where HTTP would refuse its document
        before running it (EVENTHUB_TRUSTED_DOCUMENTS_ONLY), or None to run it: a socket is
        no way around the rule."""
        if self.persisted is None or not self.persisted.trusted_only:
            return None
        try:
            await self.persisted.resolve(Operation(query=query), context)
        except RequestError as refused:
            return {"message": refused.message, "extensions": {"code": refused.code}}
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})
        try:
            await super().__call__(scope, receive, send)
        finally:
            context = scope["state"].pop(CONTEXT_KEY, None)
            if context is not None:
                self.guard.forget(context)
                await context.close()

    async def pick_websocket_subprotocol(self, request: WebSocket) -> str | None:
        """graphql-transport-ws whenever the client offers it, whatever its order of preference
        (gql offers the legacy graphql-ws first)."""
        offered = request["subprotocols"]
        if GRAPHQL_TRANSPORT_WS_PROTOCOL in offered:
            return GRAPHQL_TRANSPORT_WS_PROTOCOL
        return await super().pick_websocket_subprotocol(request)

    async def on_ws_connect(self, context: RequestContext) -> UnsetType | dict[str, object] | None:
        """Refuse a presented token that is not valid (SocketRefused); guard an accepted one."""
        websocket = context.response
        assert isinstance(websocket, WebSocket)

        async def close(code: int, reason: str) -> None:
            await websocket.close(code=code, reason=reason)

        context.token_guarded = await self.guard.admit(context, context.authorization(), close)
        return UnsetType()  # the singleton: connection_ack without a payload

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        context = RequestContext(app=self.state, request=request, response=response)
        if isinstance(request, WebSocket):
            context.connection_params = {}
        request.scope["state"][CONTEXT_KEY] = context
        return context
