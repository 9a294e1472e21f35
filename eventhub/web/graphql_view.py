"""GraphQL over HTTP and WebSocket, with one database session per request."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL

from eventhub.resolvers.context import AppState, RequestContext
from eventhub.web.live_transport import LiveTransportWSHandler

CONTEXT_KEY = "eventhub_context"


class EventHubGraphQL(GraphQL[RequestContext, None]):
    graphql_transport_ws_handler_class = LiveTransportWSHandler

    def __init__(self, schema: Any, state: AppState, origins: Sequence[str] = ()) -> None:
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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope.setdefault("state", {})
        try:
            await super().__call__(scope, receive, send)
        finally:
            context = scope["state"].pop(CONTEXT_KEY, None)
            if context is not None:
                await context.close()

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> RequestContext:
        context = RequestContext(app=self.state, request=request, response=response)
        if isinstance(request, WebSocket):
            context.connection_params = {}
        request.scope["state"][CONTEXT_KEY] = context
        return context
