"""The live mailbox: drop-to-latest, and a direct write that never overtakes the reader.

A direct write sends a state from the watch's side without waking the
subscriber. It is offered a state only while the reader waits with nothing
pending; otherwise the state goes into the mailbox as before.
"""

from __future__ import annotations

import asyncio

from eventhub.live.mailbox import Mailbox


class DirectWrites:
    """Takes what it is offered (or refuses everything), and remembers it."""

    def __init__(self, *, accept: bool = True) -> None:
        self.accept = accept
        self.offered: list[int] = []

    def __call__(self, state: int) -> bool:
        self.offered.append(state)
        return self.accept


async def parked(mailbox: Mailbox[int]) -> asyncio.Task[int]:
    """A reader waiting in `get`."""
    reader = asyncio.create_task(mailbox.get())
    await asyncio.sleep(0)
    return reader


async def taken(reader: asyncio.Task[int]) -> int:
    """What the reader got (a reader left waiting fails the test instead of hanging it)."""
    return await asyncio.wait_for(reader, 5)


async def test_a_slow_reader_gets_only_the_latest_state() -> None:
    mailbox: Mailbox[int] = Mailbox()
    for state in (1, 2, 3):
        mailbox.put(state)
    assert await taken(asyncio.create_task(mailbox.get())) == 3
    reader = await parked(mailbox)
    assert not reader.done()
    mailbox.put(4)
    assert await taken(reader) == 4


async def test_a_waiting_reader_is_not_woken_for_a_state_written_directly() -> None:
    direct = DirectWrites()
    mailbox: Mailbox[int] = Mailbox(direct)
    reader = await parked(mailbox)
    mailbox.put(1)
    mailbox.put(2)
    await asyncio.sleep(0)
    assert direct.offered == [1, 2]
    assert not reader.done()
    reader.cancel()


async def test_a_refused_direct_write_wakes_the_reader_with_the_state() -> None:
    direct = DirectWrites(accept=False)
    mailbox: Mailbox[int] = Mailbox(direct)
    reader = await parked(mailbox)
    mailbox.put(1)
    assert await taken(reader) == 1
    assert direct.offered == [1]


async def test_no_direct_write_while_the_reader_holds_a_state_or_is_busy() -> None:
    direct = DirectWrites()
    mailbox: Mailbox[int] = Mailbox(direct)
    mailbox.put(1)  # nobody waits: the reader is busy elsewhere
    reader = await parked(mailbox)  # takes 1 at once
    assert await taken(reader) == 1
    reader = await parked(mailbox)
    direct.accept = False
    mailbox.put(2)  # refused: 2 is now pending for the reader, who has not run yet
    direct.accept = True
    mailbox.put(3)  # must not overtake 2: it replaces it in the mailbox instead
    assert direct.offered == [2]
    assert await taken(reader) == 3
