"""Who may keep a WebSocket open: checked at `connection_init`, then every second.

A socket whose `connection_init` carries a token that is invalid or expired is
closed with 4401 rather than served as anonymous (graphql-ws clients treat
4401 as final). A signed-in socket is closed with 4403 as soon as its token
expires or its account is deactivated or loses a role it had when the socket
opened: graphql-ws clients then reconnect by themselves, asking their
`connectionParams` for a fresh token, and re-subscribe. One task per process
sweeps every signed-in socket each second, with one query for all their accounts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventhub.auth.access_tokens import AccessTokenCodec, InvalidAccessToken
from eventhub.auth.viewer import bearer_token
from eventhub.services import users

logger = logging.getLogger("eventhub.websocket")
UNAUTHORIZED = 4401  # graphql-ws: the token presented at connection_init is not valid
FORBIDDEN = 4403  # graphql-ws: no longer allowed; clients reconnect with a fresh token
SWEEP_SECONDS = 1.0

Close = Callable[[int, str], Awaitable[None]]


class SocketRefused(Exception):
    """`connection_init` is refused: close the socket with `code`."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(eq=False)
class SignedInSocket:
    user_id: int
    roles: frozenset[str]  # the account's roles when the socket opened
    expires_at: int
    close: Close

    def ended_because(self, now: float, current: dict[int, frozenset[str]]) -> str | None:
        """Why the socket may no longer stay open, or None."""
        if self.expires_at <= now:
            return "the access token expired; reconnect with a new one"
        roles = current.get(self.user_id)
        if roles is None:
            return "this account is deactivated"
        if not self.roles <= roles:
            return "this account's roles changed; reconnect with a new token"
        return None


class TokenGuard:
    def __init__(
        self,
        codec: AccessTokenCodec,
        session_factory: async_sessionmaker[AsyncSession],
        sweep_seconds: float = SWEEP_SECONDS,
    ) -> None:
        self._codec = codec
        self._session_factory = session_factory
        self._sweep_seconds = sweep_seconds
        self.sockets: dict[object, SignedInSocket] = {}

    async def admit(self, key: object, authorization: str | None, close: Close) -> bool:
        """Whether a token was presented and accepted; SocketRefused when one is not.

        `key` names the socket for `forget`; `close` closes it with a code and reason.
        """
        token = bearer_token(authorization)
        if token is None:
            return False  # anonymous: public subscriptions only
        try:
            claims = self._codec.decode(token)
        except InvalidAccessToken as error:
            raise SocketRefused(UNAUTHORIZED, str(error)) from None
        async with self._session_factory() as session:
            roles = await users.active_roles(session, claims.user_id)
        if roles is None:
            raise SocketRefused(FORBIDDEN, "this account is deactivated")
        self.sockets[key] = SignedInSocket(claims.user_id, roles, claims.expires_at, close)
        return True

    def forget(self, key: object) -> None:
        self.sockets.pop(key, None)

    async def run(self) -> None:
        """Sweep until cancelled; a failed sweep (database down) is retried next time."""
        while True:
            await asyncio.sleep(self._sweep_seconds)
            try:
                await self.sweep()
            except Exception:
                logger.exception("could not check the signed-in WebSockets")

    async def sweep(self) -> int:
        """Close every socket that may no longer stay open; returns how many."""
        if not self.sockets:
            return 0
        user_ids = {socket.user_id for socket in self.sockets.values()}
        async with self._session_factory() as session:
            current = await users.active_roles_of(session, user_ids)
        now = time.time()
        ending = [
            (key, socket, reason)
            for key, socket in list(self.sockets.items())
            if (reason := socket.ended_because(now, current)) is not None
        ]
        for key, socket, reason in ending:
            self.sockets.pop(key, None)
            with contextlib.suppress(Exception):  # already closing, or the client left
                await socket.close(FORBIDDEN, reason)
        return len(ending)
