"""Run a subscription's selection once per live payload, not once per subscriber.

A thousand organizers' screens watching one event all receive the same state
with (almost always) the same subscription document. GraphQL would resolve
every field of it a thousand times: profiled, that was most of the fan-out's
CPU. Payload types registered with `@live_payload` are built once per state
(`State.memo`), and this execution context memoizes the result of executing
an operation on such a payload, keyed by the parsed operation (the
ParserCache hands identical documents the same object) and its variables.

Safe because a live payload depends on nothing but the state: who may see it
is decided before the subscription yields, per subscriber.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

from graphql import OperationType
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

T = TypeVar("T", bound=type)
RESULTS_ATTRIBUTE = "_eventhub_live_results"
_LIVE_PAYLOAD_TYPES: set[type] = set()


def live_payload(cls: T) -> T:
    """Mark a subscription payload type whose instances are built once per state."""
    _LIVE_PAYLOAD_TYPES.add(cls)
    return cls


class LiveExecutionContext(StrawberryGraphQLCoreExecutionContext):
    """Executes an operation on a live payload once; its other subscribers reuse the result."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        root = self.root_value
        if (
            type(root) not in _LIVE_PAYLOAD_TYPES
            or self.operation.operation is not OperationType.SUBSCRIPTION
        ):
            return super().execute_operation(serially)
        results: dict[tuple[int, str], tuple[object, Any]] = vars(root).setdefault(
            RESULTS_ATTRIBUTE, {}
        )
        key = (id(self.operation), repr(sorted(self.variable_values.coerced.items())))
        cached = results.get(key)
        if cached is not None and cached[0] is self.operation:
            return _reused(cached[1])
        outcome = super().execute_operation(serially)
        if self.is_awaitable(outcome):
            outcome = asyncio.ensure_future(outcome)
        results[key] = (self.operation, outcome)
        return _reused(outcome)


def _reused(outcome: Any) -> Any:
    if isinstance(outcome, asyncio.Future):
        return _await_shielded(outcome)
    return outcome


async def _await_shielded(future: Awaitable[Any]) -> Any:
    # One subscriber going away must not cancel the execution the others wait for.
    return await asyncio.shield(future)
