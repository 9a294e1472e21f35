"""PayloadTexts.direct: a live state written from the watch's side, only with its operation's
text, and never once the operation was cancelled (the client may be reusing its id).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from eventhub.live.sockets import LiveSocket
from eventhub.live.state import Memo, State
from eventhub.live.texts import PayloadTexts

PAYLOAD = '{"data": {"capacityChanged": {"sold": 3}}}'


def subscription(
    written: list[str], operation: object, variables: dict[str, Any]
) -> tuple[PayloadTexts, LiveSocket]:
    """PayloadTexts made as the schema makes them, inside an operation's task."""

    async def send_text(text: str) -> None:
        written.append(f"sent {text}")

    def write_frame(text: str) -> bool:
        written.append(f"written {text}")
        return True

    socket = LiveSocket(send_text, write_frame)
    return PayloadTexts(socket, operation, variables), socket


async def test_a_direct_write_needs_the_text_of_the_same_operation_and_variables() -> None:
    operation, state = object(), cast(State, SimpleNamespace(memo=Memo()))
    written: list[str] = []

    async def first() -> None:  # the first subscriber: full path, then records the text
        texts, socket = subscription(written, operation, {"eventId": "E1"})
        assert not texts.direct(state)
        assert not await texts.sent(state)
        recording = socket.take_recording()
        assert recording is not None
        recording.store(PAYLOAD)

    await asyncio.create_task(first())
    others: dict[str, PayloadTexts] = {}

    async def subscribe(name: str, operation: object, variables: dict[str, Any]) -> None:
        others[name] = subscription(written, operation, variables)[0]
        await asyncio.sleep(3600)  # waits for states, as a subscription does

    tasks = [
        asyncio.create_task(subscribe("same", operation, {"eventId": "E1"})),
        asyncio.create_task(subscribe("other variables", operation, {"eventId": "E2"})),
        asyncio.create_task(subscribe("other operation", object(), {"eventId": "E1"})),
    ]
    await asyncio.sleep(0)
    assert [others[n].direct(state) for n in others] == [True, False, False]
    assert written == [f"written {PAYLOAD}"]

    tasks[0].cancel()  # what Strawberry does on the client's `complete`
    assert not others["same"].direct(state)
    assert written == [f"written {PAYLOAD}"]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
