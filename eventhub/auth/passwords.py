"""Argon2 hashing, off the event loop and bounded, so a login flood cannot stall the server."""

from __future__ import annotations

import asyncio

from argon2 import PasswordHasher as Argon2Hasher
from argon2.exceptions import InvalidHashError, VerificationError


class PasswordHasher:
    """Runs argon2 in worker threads, at most `concurrency` at a time; the rest queue."""

    def __init__(self, *, time_cost: int, memory_kib: int, concurrency: int) -> None:
        self._argon2 = Argon2Hasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=1)
        self._slots = asyncio.Semaphore(concurrency)
        self._dummy_hash: str | None = None

    async def hash(self, password: str) -> str:
        async with self._slots:
            return await asyncio.to_thread(self._argon2.hash, password)

    async def verify(self, password_hash: str, password: str) -> bool:
        async with self._slots:
            return await asyncio.to_thread(self._verify_sync, password_hash, password)

    async def verify_nobody(self, password: str) -> None:
        """Spend the same time as a real check, so unknown emails cannot be told apart."""
        if self._dummy_hash is None:
            self._dummy_hash = await self.hash("not-a-real-password-0000")
        await self.verify(self._dummy_hash, password)

    def _verify_sync(self, password_hash: str, password: str) -> bool:
        try:
            return self._argon2.verify(password_hash, password)
        except (VerificationError, InvalidHashError):
            return False
