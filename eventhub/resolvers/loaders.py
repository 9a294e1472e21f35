"""Per-request DataLoaders: every nested field batches its lookups into one query."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession
from strawberry.dataloader import DataLoader

from eventhub.models import User
from eventhub.services import users


class Loaders:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self.user: DataLoader[int, User | None] = DataLoader(load_fn=self._load_users)

    async def _load_users(self, ids: list[int]) -> list[User | None]:
        return await users.load_users(self._session, ids)
