"""Where counters of the `limits` library live: Redis when it answers, else this process.

`LimitStorage.run(operation)` runs a counter operation against the shared Redis
storage while the link is up and against the in-memory storage otherwise (or
when the Redis call fails), so a Redis outage never fails a request: the limits
only become per process until Redis returns.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TypeVar

from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.errors import StorageError

from eventhub.services.redis_link import RedisLink

T = TypeVar("T")


class LimitStorage:
    def __init__(self, link: RedisLink | None, key_prefix: str) -> None:
        self.link = link
        self.local: Storage = MemoryStorage()
        self.shared: Storage | None = None
        if link is not None:
            self.shared = RedisStorage(
                "async+" + link.url,
                implementation="redispy",
                wrap_exceptions=True,
                key_prefix=key_prefix,
                connection_pool=link.pool,
            )

    @property
    def is_shared(self) -> bool:
        return self.shared is not None and self.link is not None and not self.link.down

    async def run(self, operation: Callable[[Storage], Awaitable[T]]) -> T:
        """`operation` on the shared storage if it is usable, else (or on failure) on local."""
        if self.shared is None or self.link is None:
            return await operation(self.local)
        if self.link.down:
            self.link.skipped()
            return await operation(self.local)
        try:
            return await operation(self.shared)
        except (StorageError, OSError, TimeoutError) as error:
            self.link.failed(getattr(error, "storage_error", error))
            return await operation(self.local)
