"""Live subscriptions: capacity for anyone who may see the event, sales for its organizer."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable

from eventhub.metrics import SUBSCRIPTIONS_OPEN
from eventhub.resolvers.context import RequestContext
from eventhub.resolvers.ids import decode_id
from eventhub.resolvers.results import SessionExpired
from eventhub.services import events
from eventhub.services.errors import PermissionDenied
from eventhub.services.live import HUB
from eventhub.services.live_state import LiveState


async def _event_pk(ctx: RequestContext, event_id: str, *, sales: bool) -> int:
    pk = decode_id(event_id, "Event")
    event = await ctx.loaders.event.load(pk) if pk is not None else None
    actor = await ctx.actor()
    await ctx.release_connection()  # a subscription must not hold a database connection
    if event is None or not events.can_see(event, actor):
        raise PermissionDenied("no such event, or it is not public")
    if sales and not (actor.is_admin or event.organizer_id == actor.user_id):
        raise PermissionDenied("only the event's organizer sees its sales")
    return pk or 0


Express = Callable[[LiveState], bool]


async def watch(
    ctx: RequestContext, event_id: str, *, sales: bool, express: Express | None = None
) -> AsyncIterator[LiveState]:
    """Current state first, then each coalesced change; ends when the access token expires.

    `express` may deliver a state without it being yielded (see `Mailbox`); never
    once the token has expired: that state then comes here and ends the subscription.
    """
    pk = await _event_pk(ctx, event_id, sales=sales)
    expires_at = (await ctx.viewer()).expires_at
    gauge = SUBSCRIPTIONS_OPEN.labels("salesUpdated" if sales else "capacityChanged")
    gauge.inc()
    try:
        async for state in _follow(pk, expires_at, _until(expires_at, express)):
            yield state
    finally:
        gauge.dec()


def _until(expires_at: int | None, express: Express | None) -> Express | None:
    if express is None or expires_at is None:
        return express
    deliver = express
    return lambda state: time.time() < expires_at and deliver(state)


async def _follow(
    pk: int, expires_at: int | None, express: Express | None
) -> AsyncIterator[LiveState]:
    async with HUB.subscribe(pk, express) as mailbox:
        while expires_at is None:  # anonymous: nothing to expire, no timer per message
            yield await mailbox.get()
        while True:
            timeout = expires_at - time.time()
            if timeout <= 0:
                raise SessionExpired("the access token expired; subscribe again with a new one")
            try:
                async with asyncio.timeout(timeout):  # no task per message, unlike wait_for
                    state = await mailbox.get()
            except TimeoutError:
                continue  # loop round to the expiry check
            if state is not None:
                yield state
