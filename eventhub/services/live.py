"""Live capacity and sales: one change signal, coalesced, fanned out to subscribers.

Services call `changed(session, event_id)` inside the transaction that
changes `sold`, a refund or a check-in. On PostgreSQL that is `pg_notify`,
which the database delivers only if the transaction commits, to every
worker's LISTEN connection; on SQLite an after-commit hook signals this
process. A rolled-back transaction publishes nothing.

Each process keeps one `Watch` per event with subscribers. A signal marks
it dirty; its task re-reads the state at most every `interval` seconds and
hands it to every subscriber's one-slot mailbox (drop-to-latest), so a
burst yields few messages, a slow subscriber slows nobody, and since the
read happens after the last signal, the last message is the final state.
The hand-out wakes subscribers a chunk at a time, so a booking waits for
one chunk's sends, not for a thousand. When sending a state to thousands of
subscribers would take more than a share of the process's time
(EVENTHUB_LIVE_FANOUT_SHARE), the next state waits longer than `interval`:
during a rush, bookings come first.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

from sqlalchemy import event, text
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from eventhub.models.outage import is_outage

logger = logging.getLogger("eventhub.live")
CHANNEL = "eventhub_changes"
_PENDING = "eventhub_changed_events"  # SQLite: this process's watches hear of it on commit
_TOUCHED = "eventhub_touched_events"  # every database: this process's change observers do
MAX_SPACING_INTERVALS = 10  # however long sending takes, a state at least every 10 intervals
HAND_OUT_CHUNK = 50  # subscribers woken at once: ~2 ms of sending before the loop serves others
S = TypeVar("S")


async def changed(session: AsyncSession, event_id: int) -> None:
    """Announce, once the caller's transaction commits, that the event's numbers changed."""
    bind = session.bind
    if bind is not None and bind.dialect.name == "postgresql":
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": CHANNEL, "payload": str(event_id)},
        )
        touched(session, event_id)
    else:
        session.sync_session.info.setdefault(_PENDING, set()).add(event_id)


def touched(session: AsyncSession, event_id: int) -> None:
    """For a statement that carries its own pg_notify: this process's change observers
    (the response cache) hear of it as the transaction commits, before the caller
    answers, where the NOTIFY comes back to this process a little later."""
    session.sync_session.info.setdefault(_TOUCHED, set()).add(event_id)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending: set[int] = session.info.pop(_PENDING, set())
    for event_id in pending:
        HUB.signal(event_id)
    for event_id in session.info.pop(_TOUCHED, set()) - pending:
        HUB.observe_change(event_id)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING, None)
    session.info.pop(_TOUCHED, None)


Express = Callable[[Any], bool]


class Mailbox(Generic[S]):
    """Holds only the latest state: a slow reader skips to the newest, never blocks a writer.

    `express`, when given, may deliver a state at once from the writer's side (the
    Watch's task) instead of waking the reader: it returns True when it did. It is
    offered a state only while the reader waits in `get` with nothing pending, so an
    express state can never overtake one the reader still holds.
    """

    def __init__(self, express: Express | None = None) -> None:
        self._latest: S | None = None
        self._pending = False
        self._waiter: asyncio.Future[None] | None = None
        self.express = express

    def put(self, state: S | None) -> None:
        waiter = self._waiter
        idle = waiter is not None and not waiter.done() and not self._pending
        # None (the event is gone) always goes through `get`, which ends the subscription.
        if idle and state is not None and self.express is not None and self.express(state):
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


Loader = Callable[[int], Awaitable[Any]]


class Watch:
    """The subscribers of one event in this process, and the one task that feeds them.

    Every state a subscriber ever sees comes from this task's reads, one after
    another, so a subscriber can never be handed an older state after a newer
    one. A newcomer's first state is read by the same task: batched with other
    newcomers, and sent to them alone unless the event changed meanwhile.
    """

    def __init__(
        self, event_id: int, load: Loader, interval: float, poll: float | None, share: float = 1.0
    ) -> None:
        self.event_id = event_id
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
                if signalled_at is not None:
                    HUB.observe_lag(time.monotonic() - signalled_at)
                spacing = self._spacing(took)

    async def _hand_out(self, state: object, recipients: list[Mailbox[Any]]) -> float:
        """Hand the state to the first recipient alone, then HAND_OUT_CHUNK at a time;
        returns how long that took.

        The first one's reader may leave behind what lets the others' express
        deliveries succeed (its operation's encoded text). After each chunk the woken
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
        self, event_id: int, express: Express | None = None
    ) -> AsyncIterator[Mailbox[Any]]:
        """A mailbox that receives the current state first, then every coalesced change."""
        assert self.load is not None, "Hub.configure() was not called"
        mailbox: Mailbox[Any] = Mailbox(express)
        watch = self.watches.get(event_id)
        if watch is None:
            watch = self.watches[event_id] = Watch(
                event_id, self.load, self.interval, self.poll, self.share
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
