"""Where automatic persisted queries (APQ) keep hash -> document between requests.

Per process, a bounded LRU (EVENTHUB_PERSISTED_QUERY_STORE_SIZE entries). With
EVENTHUB_REDIS_URL set, the documents are shared through Redis, so a hash
registered on one worker or host runs on every other; any Redis error falls
back to the local store (the shared `RedisLink` logs the outage once), never fails
the request.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Protocol

from redis.exceptions import RedisError

from eventhub.services.redis_link import RedisLink

REDIS_TTL_SECONDS = 7 * 24 * 3600  # a client re-registers a forgotten hash by itself


class DocumentStore(Protocol):
    async def get(self, digest: str) -> str | None: ...

    async def put(self, digest: str, document: str) -> None: ...

    async def close(self) -> None: ...


class LocalDocumentStore:
    """A least-recently-used map: a flood of new hashes evicts, never grows memory."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._documents: OrderedDict[str, str] = OrderedDict()

    async def get(self, digest: str) -> str | None:
        document = self._documents.get(digest)
        if document is not None:
            self._documents.move_to_end(digest)
        return document

    async def put(self, digest: str, document: str) -> None:
        self._documents[digest] = document
        self._documents.move_to_end(digest)
        while len(self._documents) > self.size:
            self._documents.popitem(last=False)

    def __len__(self) -> int:
        return len(self._documents)

    async def close(self) -> None:
        self._documents.clear()


class RedisDocumentStore:
    """Redis first; the local store answers (and keeps a copy) whenever Redis cannot.

    It shares the process's `RedisLink` with the limits: one pool, the same short
    timeouts, and while the link is down no call waits on Redis at all.
    """

    def __init__(self, link: RedisLink, local: LocalDocumentStore, key_prefix: str) -> None:
        self.link = link
        self.local = local
        self.prefix = f"{key_prefix}:apq:"

    async def get(self, digest: str) -> str | None:
        document = await self.local.get(digest)
        if document is not None:
            return document
        if self.link.down:
            self.link.skipped()
            return None
        try:
            value = await self.link.client.get(self.prefix + digest)
        except (RedisError, OSError, TimeoutError) as error:
            self.link.failed(error)
            return None
        if value is None:
            return None
        document = value.decode() if isinstance(value, bytes) else str(value)
        await self.local.put(digest, document)
        return document

    async def put(self, digest: str, document: str) -> None:
        await self.local.put(digest, document)
        if self.link.down:
            self.link.skipped()
            return
        try:
            await self.link.client.set(self.prefix + digest, document, ex=REDIS_TTL_SECONDS)
        except (RedisError, OSError, TimeoutError) as error:
            self.link.failed(error)

    async def close(self) -> None:
        """The link belongs to the application state, which closes it."""
        await self.local.close()


def build_document_store(size: int, link: RedisLink | None, key_prefix: str) -> DocumentStore:
    local = LocalDocumentStore(size)
    return local if link is None else RedisDocumentStore(link, local, key_prefix)
