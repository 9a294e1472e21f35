"""This process's watches, keyed by event id: where signals arrive and subscribers join."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

from eventhub.live.mailbox import DirectWrite, Mailbox
from eventhub.live.watch import Loader, Watch


class Hub:
    """This process's watches, keyed by event id."""

    def __init__(self) -> None:
        self.watches: dict[int, Watch] = {}
        self.load: Loader | None = None
        self.interval = 0.1
        self.poll: float | None = None
        self.share = 1.0
        self.lag_observers: list[Callable[[float], None]] = []
        # Told of every change (None: of any) before the watches: the response cache.
        self.change_observers: list[Callable[[int | None], None]] = []

    def configure(
        self, load: Loader, interval: float = 0.1, poll: float | None = None, share: float = 1.0
    ) -> None:
        """`poll`: also re-read every so often, for databases that cannot notify other processes.
        `share`: the most of this process's time that sending one event's states may take."""
        self.load, self.interval, self.poll, self.share = load, interval, poll, share

    def signal(self, event_id: int) -> None:
        self.observe_change(event_id)
        watch = self.watches.get(event_id)
        if watch is not None:
            watch.signal()

    def signal_all(self) -> None:
        """After a gap (a lost LISTEN connection), re-send everyone the current state."""
        self.observe_change(None)
        for watch in list(self.watches.values()):
            watch.signal()

    def observe_change(self, event_id: int | None) -> None:
        for observe in self.change_observers:
            observe(event_id)

    def observe_lag(self, seconds: float) -> None:
        for observe in self.lag_observers:
            observe(seconds)

    @contextlib.asynccontextmanager
    async def subscribe(
        self, event_id: int, direct: DirectWrite | None = None
    ) -> AsyncIterator[Mailbox[Any]]:
        """A mailbox that receives the current state first, then every coalesced change."""
        assert self.load is not None, "Hub.configure() was not called"
        mailbox: Mailbox[Any] = Mailbox(direct)
        watch = self.watches.get(event_id)
        if watch is None:
            watch = self.watches[event_id] = Watch(
                event_id, self.load, self.interval, self.poll, self.share, self.observe_lag
            )
        watch.add(mailbox)  # its task reads and sends the first state
        try:
            yield mailbox
        finally:
            watch.discard(mailbox)
            if not watch.mailboxes:
                watch.stop()
                if self.watches.get(event_id) is watch:
                    del self.watches[event_id]


HUB = Hub()
