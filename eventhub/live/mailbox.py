"""One subscriber's mailbox: it holds only the latest state."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any, Generic, TypeVar

S = TypeVar("S")
DirectWrite = Callable[[Any], bool]


class Mailbox(Generic[S]):
    """Holds only the latest state: a slow reader skips to the newest, never blocks a writer.

    `direct`, when given, may write a state to the subscriber's socket at once from
    the writer's side (the watch's task) instead of waking the reader: it returns
    True when it did. It is offered a state only while the reader waits in `get`
    with nothing pending, so a state written directly can never overtake one the
    reader still holds.
    """

    def __init__(self, direct: DirectWrite | None = None) -> None:
        self._latest: S | None = None
        self._pending = False
        self._waiter: asyncio.Future[None] | None = None
        self.direct = direct

    def put(self, state: S | None) -> None:
        waiter = self._waiter
        idle = waiter is not None and not waiter.done() and not self._pending
        # None (the event is gone) always goes through `get`, which ends the subscription.
        if idle and state is not None and self.direct is not None and self.direct(state):
            return
        self._latest, self._pending = state, True
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def get(self) -> S | None:
        """The latest state; None when the loader found nothing (the event was deleted)."""
        while not self._pending:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        self._pending = False
        return self._latest
