"""EVENTHUB_RATE_LIMIT: requests per user (or per client IP when anonymous).

The `limits` library's sliding-window counter: a client may spend its whole
allowance at once, and the window slides so the allowance comes back gradually.
Over the limit the answer is HTTP 429 with `Retry-After` and a GraphQL-shaped
body whose `extensions.code` is RATE_LIMITED, so GraphQL clients handle it like
any other error.

The counters live in this process by default; with EVENTHUB_REDIS_URL they live
in Redis and hold in sum across every worker and host. While Redis fails they
fall back to this process (see `services/limit_storage.py`).
"""

from __future__ import annotations

import json
import math
import time

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import SlidingWindowCounterRateLimiter
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from eventhub.auth.access_tokens import AccessTokenCodec, InvalidAccessToken
from eventhub.auth.viewer import bearer_token
from eventhub.services.limit_storage import LimitStorage

# Machines, probes and Stripe are not clients to throttle.
EXEMPT_PREFIXES = ("/healthz", "/readyz", "/metrics", "/webhooks/")
# scope state: an async callable charging one more request (None, or the seconds to wait)
CHARGE_KEY = "eventhub_rate_charge"


class RateLimiter:
    """One `limits` item per client key, on whichever storage is usable right now."""

    def __init__(self, rate: str, storage: LimitStorage) -> None:
        self.item: RateLimitItem = parse(rate)
        self.storage = storage
        self._strategies: dict[int, SlidingWindowCounterRateLimiter] = {}

    def _strategy(self, storage: Storage) -> SlidingWindowCounterRateLimiter:
        strategy = self._strategies.get(id(storage))
        if strategy is None:
            strategy = self._strategies[id(storage)] = SlidingWindowCounterRateLimiter(storage)
        return strategy

    async def check(self, key: str) -> float | None:
        """None when the request may pass; else the seconds to wait."""

        async def hit(storage: Storage) -> float | None:
            strategy = self._strategy(storage)
            if await strategy.hit(self.item, "rate", key):
                return None
            stats = await strategy.get_window_stats(self.item, "rate", key)
            return max(stats.reset_time - time.time(), 0.0)

        return await self.storage.run(hit)


def client_key(scope: Scope, codec: AccessTokenCodec) -> str:
    """`user:<id>` for a valid access token, else `ip:<address>`."""
    token = bearer_token(Headers(scope=scope).get("authorization"))
    if token:
        try:
            return f"user:{codec.decode(token).user_id}"
        except InvalidAccessToken:
            pass  # the request fails later with UNAUTHENTICATED; count it by address
    client = scope.get("client")
    return f"ip:{client[0] if client else 'unknown'}"


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter, codec: AccessTokenCodec) -> None:
        self.app = app
        self.limiter = limiter
        self.codec = codec

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket") or scope["path"].startswith(EXEMPT_PREFIXES):
            await self.app(scope, receive, send)
            return
        key = client_key(scope, self.codec)
        wait = await self.limiter.check(key)
        # A batched request charges its further operations itself (graphql_http.py).
        scope.setdefault("state", {})[CHARGE_KEY] = lambda: self.limiter.check(key)
        if wait is None:
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1013, "reason": "rate limited"})
        else:
            await _too_many_requests(send, wait)


def rate_limited_error(wait: float) -> dict[str, object]:
    retry_after = max(1, math.ceil(wait))
    return {
        "message": f"too many requests; try again in {retry_after} s",
        "extensions": {"code": "RATE_LIMITED", "retryAfter": retry_after},
    }


async def _too_many_requests(send: Send, wait: float) -> None:
    retry_after = max(1, math.ceil(wait))
    body = json.dumps({"data": None, "errors": [rate_limited_error(wait)]}).encode()
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"retry-after", str(retry_after).encode()),
    ]
    await send({"type": "http.response.start", "status": 429, "headers": headers})
    await send({"type": "http.response.body", "body": body})
