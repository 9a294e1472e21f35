"""One event's watch: coalesces its signals into state reads and hands each state out.

A signal marks the watch dirty; its task re-reads the state at most every
`interval` seconds and puts it in every subscriber's mailbox (drop-to-latest),
so a burst yields few states, a slow subscriber slows nobody, and since the
read happens after the last signal, the last state is the final one. The
hand-out wakes subscribers a chunk at a time, so a booking waits for one
chunk's sends, not for a thousand. When sending a state to thousands of
subscribers would take more than a share of the process's time
(EVENTHUB_LIVE_FANOUT_SHARE), the next state waits longer than `interval`:
during a rush, bookings come first.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from eventhub.live.mailbox import Mailbox
from eventhub.models.outage import is_outage

logger = logging.getLogger("eventhub.live")
MAX_SPACING_INTERVALS = 10  # however long sending takes, a state at least every 10 intervals
HAND_OUT_CHUNK = 50  # subscribers woken at once: ~2 ms of sending before the loop serves others


Loader = Callable[[int], Awaitable[Any]]


class Watch:
    """The subscribers of one event in this process, and the one task that feeds them.

    Every state a subscriber ever sees comes from this task's reads, one after
    another, so a subscriber can never be handed an older state after a newer
    one. A newcomer's first state is read by the same task: batched with other
    newcomers, and sent to them alone unless the event changed meanwhile.
    """

    def __init__(
        self,
        event_id: int,
        load: Loader,
        interval: float,
        poll: float | None,
        share: float = 1.0,
        on_lag: Callable[[float], None] | None = None,
    ) -> None:
        self.event_id = event_id
        self._on_lag = on_lag
        self._poll = poll
        self._share = share
        self._last_key: object = None
        self.mailboxes: set[Mailbox[Any]] = set()
        self._newcomers: set[Mailbox[Any]] = set()
        self._load = load
        self._interval = interval
        self._dirty = False
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.signalled_at: float | None = None

    def add(self, mailbox: Mailbox[Any]) -> None:
        self.mailboxes.add(mailbox)
        self._newcomers.add(mailbox)
        self._wake.set()
        self._ensure_running()

    def discard(self, mailbox: Mailbox[Any]) -> None:
        self.mailboxes.discard(mailbox)
        self._newcomers.discard(mailbox)

    def signal(self) -> None:
        if self.signalled_at is None:
            self.signalled_at = time.monotonic()
        self._dirty = True
        self._wake.set()
        self._ensure_running()

    def _ensure_running(self) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._run())

    async def _run(self) -> None:
        last_sent, spacing = 0.0, self._interval
        while self.mailboxes:
            polled = await self._wait()
            if not self.mailboxes:
                return  # stopped: the last subscriber left while this task waited
            if self._dirty:
                wait = last_sent + spacing - time.monotonic()
                if wait > 0:
                    await asyncio.sleep(wait)
            self._wake.clear()
            dirty, self._dirty = self._dirty, False
            newcomers, self._newcomers = self._newcomers, set()
            signalled_at, self.signalled_at = self.signalled_at, None
            try:
                state = await self._load(self.event_id)
            except Exception as error:  # keep the watch alive; retry soon for whoever waits
                if not is_outage(error):  # an outage is logged once, by the database gate
                    logger.exception("could not read live state of event %s", self.event_id)
                self._newcomers |= newcomers & self.mailboxes
                self._dirty = self._dirty or dirty
                await asyncio.sleep(self._interval)
                self._wake.set()
                continue
            key = getattr(state, "key", None)
            previous, self._last_key = self._last_key, key
            moved = key is None or previous is None or key != previous
            # Everyone hears of a change: signalled, found by a poll, or seen by a newcomer's read.
            changed = dirty or (moved and (polled or previous is not None))
            if changed:
                recipients = list(self.mailboxes)
                last_sent = time.monotonic()
            else:
                recipients = [m for m in newcomers if m in self.mailboxes]
            if not recipients:
                continue
            took = await self._hand_out(state, recipients)
            if changed:
                if signalled_at is not None and self._on_lag is not None:
                    self._on_lag(time.monotonic() - signalled_at)
                spacing = self._spacing(took)

    async def _hand_out(self, state: object, recipients: list[Mailbox[Any]]) -> float:
        """Hand the state to the first recipient alone, then HAND_OUT_CHUNK at a time;
        returns how long that took.

        The first one's reader may leave behind what lets the others' direct
        writes succeed (its operation's encoded text). After each chunk the woken
        readers send before this task resumes, then the loop serves others: a booking
        whose transaction holds its event's row waits for one chunk, not for a
        thousand sockets.
        """
        started = time.monotonic()
        bounds = [0, *range(1, len(recipients), HAND_OUT_CHUNK)]
        for start, end in zip(bounds, [*bounds[1:], len(recipients)], strict=True):
            for mailbox in recipients[start:end]:
                mailbox.put(state)
            await asyncio.sleep(0)
        return time.monotonic() - started

    def _spacing(self, took: float) -> float:
        """How long to wait before the next state, so that sending takes at most `share` of
        this process's time: the interval, unless handing this state out took longer.

        During a booking rush on a small machine, subscribers then get a state every
        few hundred ms instead of every 100 (never less often than every
        MAX_SPACING_INTERVALS intervals), and bookings keep their pace; the last state
        after a burst is still sent. The hand-out's time includes the other work the
        loop did between its chunks, so the busier the process, the sooner this brakes.
        """
        return min(max(self._interval, took / self._share), MAX_SPACING_INTERVALS * self._interval)

    async def _wait(self) -> bool:
        """False when the poll interval passed with no signal and no newcomer."""
        if self._poll is None:
            await self._wake.wait()
            return False
        try:
            await asyncio.wait_for(self._wake.wait(), self._poll)
        except TimeoutError:
            return True
        return False

    def stop(self) -> None:
        """Let the task end once it has no subscribers. Never cancelled: a read cut off
        mid-query would leave its connection to be torn down, and on SQLite hold the
        database's write lock until then, delaying every other read and booking."""
        self._wake.set()
