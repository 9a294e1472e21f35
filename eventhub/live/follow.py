"""What subscription resolvers call: follow one event's states until a deadline."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Callable

from eventhub.live.hub import HUB
from eventhub.live.state import State
from eventhub.services.errors import PermissionDenied

DirectWrite = Callable[[State], bool]


async def follow(
    event_id: int,
    *,
    ends_at: float,
    ending: Exception | None,
    direct: DirectWrite | None = None,
) -> AsyncGenerator[State, None]:
    """The event's current state first, then each coalesced change, until `ends_at`.

    `ending`: the error to raise at `ends_at`; None: yield nothing more, and wait until
    the caller closes the generator (its socket closes). `direct` may write a state
    without it being yielded (see `Mailbox`); never after `ends_at`. A deleted
    event ends it as one never visible would. Close the generator (`aclosing`) to leave
    the hub at once.
    """
    async with HUB.subscribe(event_id, _until(ends_at, direct)) as mailbox:
        while True:
            timeout = ends_at - time.time()
            if timeout <= 0:
                if ending is not None:
                    raise ending
                await asyncio.get_running_loop().create_future()  # until the socket closes
            try:
                async with asyncio.timeout(timeout):  # no task per message, unlike wait_for
                    state = await mailbox.get()
            except TimeoutError:
                continue  # loop round to the expiry check
            if state is None:
                raise PermissionDenied("no such event, or it is not public")  # deleted
            yield state


def _until(ends_at: float, direct: DirectWrite | None) -> DirectWrite | None:
    if direct is None:
        return direct
    write = direct
    return lambda state: time.time() < ends_at and write(state)
