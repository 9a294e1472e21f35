"""The public-read response cache: anonymous catalogue reads answered from memory.

What is cached: the encoded JSON body of an HTTP GraphQL operation (not a batch)
that carried no Authorization header, was a query whose root fields are all in
schema/public_reads.py's
PUBLIC_ROOT_FIELDS (`events`, `event`, `__typename`), and answered without
errors; keyed by the operation as sent (document or document id, operation
name, variables, extensions). Nothing else: a signed-in request, a `me`, an
order or anything under @requiresRole never reads or fills it, so what depends
on the viewer can never be served to someone else. Every anonymous request
sees the same data, and that is all the cache reuses.

For how long: until the next change signal of this process, the same one the
live subscriptions follow (eventhub/live/signals.py). A change this worker commits
drops the cache before the mutation answers; one committed by another worker
arrives by NOTIFY (PostgreSQL), so capacity here is never staler than the live
feed. What no signal announces (an organizer renaming their account, an event
passing its end) is bounded by EVENTHUB_PUBLIC_CACHE_SECONDS (default 5 s); on
SQLite, where other processes' changes are only polled, by the poll interval.

A read that began before a change must not store its older answer after the
change dropped the cache: each read notes the cache's generation when it
starts and stores only if no signal came since.
"""

from __future__ import annotations

import json
import time
from collections import OrderedDict
from dataclasses import dataclass

from starlette.requests import Request

from eventhub.metrics import GRAPHQL_LATENCY, GRAPHQL_OPERATIONS, RESPONSE_CACHE
from eventhub.web.graphql_requests import Operation

HEADER = "x-eventhub-cache"  # hit or miss, on every answer the cache could hold


@dataclass(frozen=True)
class Entry:
    body: bytes
    expires: float
    label: str  # the operation's metrics label: a hit is counted like the run it replaces


class ResponseCache:
    """This process's cached answers, dropped all at once on any change signal."""

    def __init__(self, seconds: float, max_entries: int) -> None:
        self.seconds = seconds
        self.max_entries = max_entries
        self.generation = 0
        self._entries: OrderedDict[str, Entry] = OrderedDict()

    @property
    def enabled(self) -> bool:
        return self.seconds > 0

    def key(self, request: Request, operation: Operation) -> str | None:
        """The operation's key, or None when its answer may depend on who asks."""
        if not self.enabled or "authorization" in request.headers:
            return None
        try:
            return json.dumps(
                [
                    operation.query,
                    operation.document_id,
                    operation.operation_name,
                    operation.variables,
                    operation.extensions,
                ],
                sort_keys=True,
                separators=(",", ":"),
            )
        except (TypeError, ValueError):
            return None

    def get(self, key: str) -> bytes | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry.expires <= time.monotonic():
            del self._entries[key]
            return None
        self._entries.move_to_end(key)
        RESPONSE_CACHE.labels("hit").inc()
        GRAPHQL_OPERATIONS.labels(entry.label, "query", "ok").inc()
        GRAPHQL_LATENCY.labels(entry.label, "query").observe(0.0)
        return entry.body

    def put(self, key: str, generation: int, body: bytes, label: str = "other") -> bool:
        """Keep `body` unless a change was signalled since the read began (`generation`)."""
        if generation != self.generation:
            return False
        self._entries[key] = Entry(body, time.monotonic() + self.seconds, label)
        self._entries.move_to_end(key)
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
        RESPONSE_CACHE.labels("stored").inc()
        return True

    def invalidate(self, _event_id: int | None = None) -> None:
        """Any change to any event drops every answer: a listing shows many events."""
        self.generation += 1
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)
