"""Keeps each worker's QR key ring current while it runs: no restart after `eventhub keys …`.

Retirements are read from the database (`retired_ticket_keys`), so `eventhub keys
retire KID` reaches every worker of every host within about a second. A rotation
rewrites the key files of one host; its workers reload them when they change.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventhub.services import retired_keys
from eventhub.services.ticket_tokens import TicketSigner
from eventhub.settings import TICKET_OLD_KEYS_FILE, Settings
from eventhub.web.app_state import AppState

logger = logging.getLogger("eventhub.keys")
REFRESH_SECONDS = 1.0


def _stamp(paths: list[Path]) -> tuple[float | None, ...]:
    return tuple(p.stat().st_mtime_ns if p.exists() else None for p in paths)


class KeyRefresher:
    """Rebuilds `state.signer` from the key files (when they change) minus retired keys."""

    def __init__(
        self, state: AppState, settings: Settings, sessions: async_sessionmaker[AsyncSession]
    ) -> None:
        self.state = state
        self.sessions = sessions
        self.settings = settings
        self.ring = state.signer  # as configured at start, nothing retired yet
        key_file = settings.ticket_key_file
        self.files = [key_file, TICKET_OLD_KEYS_FILE] if key_file else []
        self.stamp = _stamp(self.files)
        self.failing = False

    def _reload_files(self) -> None:
        stamp = _stamp(self.files)
        if stamp == self.stamp or not self.files:
            return
        old_keys = TICKET_OLD_KEYS_FILE.read_text() if TICKET_OLD_KEYS_FILE.exists() else ""
        self.ring = TicketSigner.from_pem(self.files[0].read_text(), old_keys)
        self.stamp = stamp
        logger.info("ticket keys reloaded: signing with %s", self.ring.key_ids[0])

    async def refresh(self) -> None:
        """One pass; a failure (database down, a half-written file) keeps the last ring."""
        try:
            self._reload_files()
            async with self.sessions() as session:
                retired = await retired_keys.retired_kids(session)
        except Exception as error:
            if not self.failing:
                # The error's name only: the database gate logs the outage itself, once.
                logger.warning(
                    "ticket keys not refreshed (%s); keeping the last ones", type(error).__name__
                )
            self.failing = True
            return
        self.failing = False
        self.state.signer = self.ring.without(retired)

    async def run(self) -> None:
        while True:
            await asyncio.sleep(REFRESH_SECONDS)
            await self.refresh()
