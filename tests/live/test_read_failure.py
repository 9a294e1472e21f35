"""A failed live-state read never ends a Watch: it retries, and whoever waited gets the state.

The Watch's task is the only thing that feeds an event's subscribers. If a read
of the state raised out of it (a dropped connection, a deadlock), every subscriber
of that event would wait for ever, and a newcomer would never get its first state.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

import pytest

from eventhub.live.mailbox import Mailbox
from eventhub.live.watch import Watch


@dataclass(frozen=True)
class State:
    number: int
    key: int  # what the Watch compares to tell a change from a repeat


class FlakyLoader:
    """Reads states 1, 2, ...; raises instead on the reads numbered in `failing`.

    With `same_key` every state looks unchanged to the Watch: only the signal it lost
    on the failed read can tell it to send one.
    """

    def __init__(self, *failing: int, same_key: bool = False) -> None:
        self.failing, self.same_key = set(failing), same_key
        self.reads = 0
        self.states = 0

    async def __call__(self, event_id: int) -> State:
        self.reads += 1
        if self.reads in self.failing:
            raise RuntimeError(f"read {self.reads} of event {event_id} failed")
        self.states += 1
        return State(self.states, 0 if self.same_key else self.states)


async def next_state(mailbox: Mailbox[State]) -> State | None:
    """The mailbox's next state (a subscriber left waiting fails the test, not hangs it)."""
    return await asyncio.wait_for(mailbox.get(), 5)


async def test_a_newcomer_gets_its_first_state_after_the_read_failed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    load = FlakyLoader(1)
    watch = Watch(7, load, interval=0.01, poll=None)
    mailbox: Mailbox[State] = Mailbox()
    with caplog.at_level(logging.ERROR, logger="eventhub.live"):
        watch.add(mailbox)
        assert await next_state(mailbox) == State(1, 1)
    assert load.reads == 2
    assert "could not read live state of event 7" in caplog.text
    watch.discard(mailbox)
    watch.stop()


async def test_a_change_whose_read_failed_still_reaches_every_subscriber() -> None:
    # The first read serves the newcomers; the signalled change's read fails twice.
    load = FlakyLoader(2, 3, same_key=True)
    watch = Watch(7, load, interval=0.01, poll=None)
    first, second = Mailbox[State](), Mailbox[State]()
    watch.add(first)
    watch.add(second)
    assert (await next_state(first), await next_state(second)) == (State(1, 0), State(1, 0))
    watch.signal()
    assert (await next_state(first), await next_state(second)) == (State(2, 0), State(2, 0))
    assert load.reads == 4
    watch.discard(first)
    watch.discard(second)
    watch.stop()
