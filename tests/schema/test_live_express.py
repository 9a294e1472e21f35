"""SharedText.express: a live state written from the hub's side, only with its operation's text,
and never once the operation was cancelled (the client may be reusing its id).
"""

from __future__ import annotations

import asyncio
from types import SimpleNamespace
from typing import Any, cast

from strawberry.types import Info

from eventhub.schema.live_delivery import DELIVERY, Delivery, SharedText
from eventhub.services.live_state import LiveState

PAYLOAD = '{"data": {"capacityChanged": {"sold": 3}}}'


def subscription(written: list[str], operation: object, variables: dict[str, Any]) -> SharedText:
    """A SharedText made as the transport would make it, inside an operation's task."""

    async def send_payload(text: str) -> None:
        written.append(f"sent {text}")

    def write_now(text: str) -> bool:
        written.append(f"written {text}")
        return True

    DELIVERY.set(Delivery(send_payload, write_now))
    info = SimpleNamespace(operation=operation, variable_values=variables)
    return SharedText(cast(Info[Any, Any], info))


async def test_express_needs_the_text_of_the_same_operation_and_variables() -> None:
    operation, state = object(), cast(LiveState, SimpleNamespace(shared={}))
    written: list[str] = []

    async def first() -> None:  # the first subscriber: full path, then records the text
        shared = subscription(written, operation, {"eventId": "E1"})
        assert not shared.express(state)
        assert not await shared.sent(state)
        delivery = DELIVERY.get()
        assert delivery is not None
        recording = delivery.take_recording()
        assert recording is not None
        recording.store(PAYLOAD)

    await asyncio.create_task(first())
    others: dict[str, SharedText] = {}

    async def subscribe(name: str, operation: object, variables: dict[str, Any]) -> None:
        others[name] = subscription(written, operation, variables)
        await asyncio.sleep(3600)  # waits for states, as a subscription does

    tasks = [
        asyncio.create_task(subscribe("same", operation, {"eventId": "E1"})),
        asyncio.create_task(subscribe("other variables", operation, {"eventId": "E2"})),
        asyncio.create_task(subscribe("other operation", object(), {"eventId": "E1"})),
    ]
    await asyncio.sleep(0)
    assert [others[n].express(state) for n in others] == [True, False, False]
    assert written == [f"written {PAYLOAD}"]

    tasks[0].cancel()  # what Strawberry does on the client's `complete`
    assert not others["same"].express(state)
    assert written == [f"written {PAYLOAD}"]
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
