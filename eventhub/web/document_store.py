"""Where automatic persisted queries (APQ) keep hash -> document between requests.

Per process, a bounded LRU (EVENTHUB_PERSISTED_QUERY_STORE_SIZE entries). With
EVENTHUB_REDIS_URL set, the documents are shared through Redis, so a hash
registered on one worker or host runs on every other; any Redis error falls
back to the local store (logged once per outage), never fails the request.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from typing import Any, Protocol

logger = logging.getLogger("eventhub.persisted_queries")
REDIS_PREFIX = "eventhub:apq:"
REDIS_TTL_SECONDS = 7 * 24 * 3600  # a client re-registers a forgotten hash by itself
REDIS_TIMEOUT_SECONDS = 0.5


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
    """Redis first; the local store answers (and keeps a copy) whenever Redis cannot."""

    def __init__(self, client: Any, local: LocalDocumentStore) -> None:
        self.client = client
        self.local = local
        self._down = False

    async def get(self, digest: str) -> str | None:
        document = await self.local.get(digest)
        if document is not None:
            return document
        try:
            value = await self.client.get(REDIS_PREFIX + digest)
        except Exception as error:
            self._failed(error)
            return None
        self._up()
        if value is None:
            return None
        document = value.decode() if isinstance(value, bytes) else str(value)
        await self.local.put(digest, document)
        return document

    async def put(self, digest: str, document: str) -> None:
        await self.local.put(digest, document)
        try:
            await self.client.set(REDIS_PREFIX + digest, document, ex=REDIS_TTL_SECONDS)
        except Exception as error:
            self._failed(error)
            return
        self._up()

    async def close(self) -> None:
        await self.client.aclose()

    def _failed(self, error: Exception) -> None:
        if not self._down:
            logger.warning("Redis unreachable (%s); persisted queries kept per process", error)
        self._down = True

    def _up(self) -> None:
        if self._down:
            logger.warning("Redis is back; persisted queries shared again")
        self._down = False


def build_document_store(size: int, redis_url: str) -> DocumentStore:
    local = LocalDocumentStore(size)
    if not redis_url:
        return local
    import redis.asyncio as redis

    client = redis.Redis.from_url(
        redis_url,
        socket_timeout=REDIS_TIMEOUT_SECONDS,
        socket_connect_timeout=REDIS_TIMEOUT_SECONDS,
    )
    return RedisDocumentStore(client, local)
