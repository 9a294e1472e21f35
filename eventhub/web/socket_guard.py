"""EVENTHUB_MAX_SOCKETS_PER_ADDRESS: how many WebSockets one client address may hold open.

Each open socket costs a worker a connection, a task and its buffers, and
each may carry up to EVENTHUB_MAX_SUBSCRIPTIONS_PER_SOCKET operations (set on
the GraphQL view); together the two bound what one address can make a worker
hold — 5,000 anonymous subscriptions from one address used to cost 58 MiB and
never end. A socket past the cap is accepted and closed at once with code 1013
(try again later) and a reason that says why: refusing the handshake instead
would show browsers and graphql-ws clients only a generic failure.

The count is per worker process, as uvicorn's connections are: with N workers
an address may hold up to N times the cap. The address is the TCP peer's (no
proxy headers are trusted), so clients behind one NAT share it.
"""

from __future__ import annotations

from collections import Counter

from starlette.types import ASGIApp, Receive, Scope, Send

TRY_AGAIN_LATER = 1013
KNOWN_SUBPROTOCOLS = ("graphql-transport-ws", "graphql-ws")


class SocketGuard:
    def __init__(self, app: ASGIApp, max_sockets_per_address: int) -> None:
        self.app = app
        self.max_sockets_per_address = max_sockets_per_address
        self.open: Counter[str] = Counter()  # sockets open now, per client address

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "websocket":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else "unknown"
        if self.open[address] >= self.max_sockets_per_address:
            reason = f"at most {self.max_sockets_per_address} open sockets per client address"
            await refuse(scope, receive, send, reason)
            return
        self.open[address] += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.open[address] -= 1
            if not self.open[address]:
                del self.open[address]


async def refuse(scope: Scope, receive: Receive, send: Send, reason: str) -> None:
    """Accept (with a subprotocol the client offered, as browsers require) and close at once."""
    await receive()  # websocket.connect
    offered = scope.get("subprotocols") or []
    subprotocol = next((p for p in KNOWN_SUBPROTOCOLS if p in offered), None)
    await send({"type": "websocket.accept", "subprotocol": subprotocol})
    await send({"type": "websocket.close", "code": TRY_AGAIN_LATER, "reason": reason})
