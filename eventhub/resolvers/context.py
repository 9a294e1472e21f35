"""The per-request context every resolver receives.

The database session is opened lazily on first use and closed by the web
layer when the response is sent, so a request that needs no database never
takes a connection.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from starlette.requests import HTTPConnection

from eventhub.auth.access_tokens import AccessTokenCodec
from eventhub.auth.sign_in import Authenticator
from eventhub.auth.viewer import Viewer, bearer_token, resolve_viewer
from eventhub.live.sockets import LiveSocket
from eventhub.resolvers.loaders import Loaders
from eventhub.services import audit
from eventhub.services.clock import Clock
from eventhub.services.payments import PaymentProvider
from eventhub.services.ticket_tokens import TicketSigner
from eventhub.settings import Settings


class AppServices(Protocol):
    """What a request needs from the process's long-lived objects.

    The web layer's `AppState` (web/app_state.py) provides these; resolvers and schema
    types depend on this view only, so nothing below web imports web.
    """

    @property
    def settings(self) -> Settings: ...
    @property
    def session_factory(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def codec(self) -> AccessTokenCodec: ...
    @property
    def authenticator(self) -> Authenticator: ...
    @property
    def provider(self) -> PaymentProvider: ...
    @property
    def signer(self) -> TicketSigner: ...
    @property
    def clock(self) -> Clock: ...


@dataclass(eq=False)
class RequestContext:
    app: AppServices
    request: HTTPConnection
    response: Any = None
    connection_params: dict[str, Any] | None = None
    # The transport closes the connection when its access token expires (WebSocket):
    # a subscription then need not end itself at that moment (see resolvers/live.py).
    token_guarded: bool = False
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    # A persisted document's id (its text never changes): parsed and validated once per process.
    document_id: str | None = None
    # The document came from the trusted-documents manifest the operator loaded.
    trusted_document: bool = False
    # The operation reads only the public catalogue (schema/public_reads.py): an anonymous
    # request's answer may be cached for other anonymous requests.
    public_read: bool = False
    operation_label: str = "other"  # its metrics label (schema/operation_metrics.py)
    # The operation's WebSocket, when the web layer offers one: live states then go out
    # as text encoded once per operation (eventhub/live/texts.py).
    live_socket: LiveSocket | None = None
    _session: AsyncSession | None = None
    _viewer: Viewer | None = None
    _viewer_lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def for_operation(self, live_socket: LiveSocket | None = None) -> RequestContext:
        """A context for one operation on this WebSocket, with a session, loaders and
        viewer of its own: an operation that ends (or is cancelled) mid-query can never
        leave another operation of the socket a broken session or a held lock."""
        return RequestContext(
            app=self.app,
            request=self.request,
            response=self.response,
            connection_params=self.connection_params,
            token_guarded=self.token_guarded,
            live_socket=live_socket,
        )

    @property
    def settings(self) -> Settings:
        return self.app.settings

    @cached_property
    def now(self) -> datetime:
        """The request's instant, read once: every service it calls sees the same time."""
        return self.app.clock.now()

    @property
    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = self.app.session_factory()
        return self._session

    @cached_property
    def loaders(self) -> Loaders:
        return Loaders(self.session, self.viewer)

    @property
    def ip(self) -> str | None:
        client = self.request.client
        return client.host if client else None

    async def viewer(self) -> Viewer:
        """Resolved once, from the Authorization header or the WebSocket connection_init payload."""
        async with self._viewer_lock:
            if self._viewer is None:
                self._viewer = await resolve_viewer(
                    self.session, self.app.codec, bearer_token(self.authorization())
                )
            return self._viewer

    async def actor(self) -> audit.Actor:
        viewer = await self.viewer()
        return audit.Actor(viewer.user_id, self.ip, viewer.roles)

    def authorization(self) -> str | None:
        """The Authorization header, or on a WebSocket the `connection_init` payload's
        `authorization` (any case)."""
        if self.connection_params is not None:
            value = next(
                (v for k, v in self.connection_params.items() if k.lower() == "authorization"),
                None,
            )
            return value if isinstance(value, str) else None
        return self.request.headers.get("authorization")

    async def release_connection(self) -> None:
        """End the session's transaction and hand its connection back (long-lived WebSockets)."""
        if self._session is not None:
            await self._session.close()

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
