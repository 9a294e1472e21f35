"""The live Watch's pacing: at most one state per interval, longer when sending is slow, and
the loop free for other work between chunks of subscribers.

No database: the Watch reads through the loader it is given, and the
subscriber below stands for a fan-out that keeps the process busy (it blocks
the event loop as a thousand socket writes would).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import statistics
import time
from dataclasses import dataclass

from eventhub.live.hub import Hub
from eventhub.live.mailbox import Mailbox
from eventhub.live.watch import HAND_OUT_CHUNK

INTERVAL = 0.02  # the cap is 10 intervals: 0.2 s, above SEND_SECONDS / 0.25
SEND_SECONDS = 0.04  # what "sending" one state takes here
BRAKED_SHARE = 0.25  # sending may take a quarter of the time: next state 4x its sending later


@dataclass(frozen=True)
class Numbered:
    key: int


async def read_times(share: float, seconds: float = 1.0) -> tuple[list[float], int, int]:
    """(when each state was read, the last state read, the last one the subscriber got)."""
    hub, reads = Hub(), list[float]()

    async def load(_event_id: int) -> Numbered:
        reads.append(time.monotonic())
        return Numbered(len(reads))

    hub.configure(load, INTERVAL, share=share)
    got = Numbered(0)
    async with hub.subscribe(1) as mailbox:

        async def slow_subscriber() -> None:
            nonlocal got
            while True:
                got = await mailbox.get()
                time.sleep(SEND_SECONDS)  # noqa: ASYNC251 - the point: a busy process

        subscriber = asyncio.create_task(slow_subscriber())
        ends = time.monotonic() + seconds
        while time.monotonic() < ends:  # changes all the time, as in a booking rush
            hub.signal(1)
            await asyncio.sleep(0.001)
        await asyncio.sleep(20 * INTERVAL + 2 * SEND_SECONDS / share)  # the last state arrives
        subscriber.cancel()
    return reads, len(reads), got.key


async def test_states_are_spaced_by_the_interval_when_sending_is_cheap() -> None:
    reads, last_read, last_got = await read_times(share=1.0)
    gaps = [later - earlier for earlier, later in itertools.pairwise(reads[1:])]
    assert min(gaps) >= SEND_SECONDS * 0.9  # the sending itself already spaces them
    assert statistics.median(gaps) < 0.9 * SEND_SECONDS / BRAKED_SHARE, gaps  # unlike below
    assert last_got == last_read  # the final state always goes out


async def test_a_slow_fan_out_spaces_out_the_next_state_to_keep_its_share() -> None:
    reads, last_read, last_got = await read_times(BRAKED_SHARE)
    gaps = [later - earlier for earlier, later in itertools.pairwise(reads[1:])]
    assert min(gaps) >= 0.9 * SEND_SECONDS / BRAKED_SHARE, gaps
    assert last_got == last_read


async def test_a_hand_out_to_many_slow_subscribers_lets_the_loop_serve_others() -> None:
    """A booking in the middle of its transaction waits for one chunk of sends, not for all."""
    subscribers, send_seconds = 8 * HAND_OUT_CHUNK, 0.001
    hub, read_allowed, all_sent = Hub(), asyncio.Event(), asyncio.Event()

    async def load(_event_id: int) -> Numbered:
        await read_allowed.wait()  # once every subscriber waits on its mailbox
        return Numbered(1)

    hub.configure(load, INTERVAL)
    received: list[int] = []
    stalls: list[float] = []

    async def subscriber(mailbox: Mailbox[Numbered]) -> None:
        received.append((await mailbox.get()).key)
        time.sleep(send_seconds)  # noqa: ASYNC251 - a socket write's worth of blocking

    async def other_work() -> None:  # how long the loop keeps a ready task waiting
        while not all_sent.is_set():
            before = time.monotonic()
            await asyncio.sleep(0)
            stalls.append(time.monotonic() - before)

    async with contextlib.AsyncExitStack() as stack:
        mailboxes = [await stack.enter_async_context(hub.subscribe(1)) for _ in range(subscribers)]
        tasks = [asyncio.create_task(subscriber(m)) for m in mailboxes]
        await asyncio.sleep(0)
        ticking = asyncio.create_task(other_work())
        read_allowed.set()
        await asyncio.wait_for(asyncio.gather(*tasks), 10)
        all_sent.set()
        await ticking
    assert received == [1] * subscribers
    assert max(stalls) < 3 * HAND_OUT_CHUNK * send_seconds, max(stalls)  # all at once: 8 chunks
