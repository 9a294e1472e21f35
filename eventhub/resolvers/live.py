"""Live subscriptions: capacity for anyone who may see the event, sales for its organizer."""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncGenerator

from eventhub.global_ids import decode_id
from eventhub.live.follow import DirectWrite, follow
from eventhub.live.state import State
from eventhub.metrics import SUBSCRIPTIONS_OPEN
from eventhub.resolvers.context import RequestContext
from eventhub.resolvers.outcomes import SessionExpired, SubscriptionExpired
from eventhub.services import access
from eventhub.services.errors import PermissionDenied
from eventhub.settings import Settings


async def _event_pk(ctx: RequestContext, event_id: str, *, sales: bool) -> int:
    pk = decode_id(event_id, "Event")
    event = await ctx.loaders.event.load(pk) if pk is not None else None
    actor = await ctx.actor()
    await ctx.release_connection()  # a subscription must not hold a database connection
    if event is None or not access.may_see_event(actor, event):
        raise PermissionDenied("no such event, or it is not public")
    if sales and not access.may_manage_event(actor, event):
        raise PermissionDenied("only the event's organizer sees its sales")
    return pk or 0


async def watch(
    ctx: RequestContext, event_id: str, *, sales: bool, direct: DirectWrite | None = None
) -> AsyncGenerator[State, None]:
    """Current state first, then each coalesced change; ends when its lifetime does.

    A signed-in subscription ends when its access token expires; an anonymous
    one after EVENTHUB_ANONYMOUS_SUBSCRIPTION_SECONDS, so that a stranger's
    forgotten subscriptions do not stay open forever. On a WebSocket
    (`ctx.token_guarded`) an expired token sends nothing more and does not end the
    subscription: the socket is closed with 4403 (web/socket_tokens.py), which tells
    graphql-ws clients to reconnect and subscribe again. `direct` may write a
    state without it being yielded (see `live.follow`); never after the end.
    """
    pk = await _event_pk(ctx, event_id, sales=sales)
    ends_at, ending = _lifetime((await ctx.viewer()).expires_at, ctx.settings)
    gauge = SUBSCRIPTIONS_OPEN.labels("salesUpdated" if sales else "capacityChanged")
    gauge.inc()
    closes_socket = ctx.token_guarded and isinstance(ending, SessionExpired)
    states = follow(pk, ends_at=ends_at, ending=None if closes_socket else ending, direct=direct)
    try:
        async with contextlib.aclosing(states):  # leaves the hub at once when closed
            async for state in states:
                yield state
    finally:
        gauge.dec()


def _lifetime(token_expires_at: int | None, settings: Settings) -> tuple[float, Exception]:
    """When the subscription ends, and the error it ends with."""
    if token_expires_at is not None:
        return token_expires_at, SessionExpired(
            "the access token expired; subscribe again with a new one"
        )
    seconds = settings.anonymous_subscription_seconds
    return time.time() + seconds, SubscriptionExpired(
        f"anonymous subscriptions last at most {seconds:g} s; subscribe again"
    )
