"""A login waiting for (or running) argon2 holds no database connection.

Argon2 is gated on a threading.Event so that every login of the burst is
parked inside the hasher at once; then the test counts the connections
checked out of the pool (zero) and shows a read still answers.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from eventhub.web.app import create_app
from tests.conftest import make_settings
from tests.support.graphql import LOGIN, GraphQLClient

BURST = 40


class GatedArgon2:
    """Counts calls into the hasher and blocks every argon2 run until opened."""

    def __init__(self, hasher: Any, monkeypatch: pytest.MonkeyPatch) -> None:
        self.gate = threading.Event()
        self.waiting = 0
        self.all_waiting = asyncio.Event()
        verify = hasher.verify
        verify_sync = hasher._verify_sync

        async def counted_verify(password_hash: str, password: str) -> bool:
            self.waiting += 1
            if self.waiting == BURST:
                self.all_waiting.set()
            return bool(await verify(password_hash, password))

        def gated_sync(password_hash: str, password: str) -> bool:
            self.gate.wait(timeout=60)
            return bool(verify_sync(password_hash, password))

        monkeypatch.setattr(hasher, "verify", counted_verify)
        monkeypatch.setattr(hasher, "_verify_sync", gated_sync)


@pytest.fixture
async def small_pool_app(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    settings = make_settings(
        database_url,
        tmp_path,
        db_pool_size=2,
        password_hash_concurrency=1,
        rate_limit="1000000/minute",
        # The hold sweeper's own checkouts are not the logins': one sweep at start-up, then
        # none during the test (a sweep landing at the count made it 1, not 0).
        sweep_interval_seconds=3600,
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


async def test_a_burst_of_wrong_passwords_holds_no_connection_while_argon2_queues(
    small_pool_app: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    state = small_pool_app.state.eventhub
    transport = httpx.ASGITransport(app=small_pool_app, client=("203.0.113.9", 4321))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        client = GraphQLClient(http)
        victim = await client.register()
        # The connections checked out since now and not yet returned. Background tasks
        # (key refresh, outbox) may return one taken before: a set, not a counter.
        checked_out: set[int] = set()
        pool = state.engine.sync_engine
        event.listen(pool, "checkout", lambda conn, *_: checked_out.add(id(conn)))
        event.listen(pool, "checkin", lambda conn, *_: checked_out.discard(id(conn)))
        gated = GatedArgon2(state.authenticator.hasher, monkeypatch)

        logins = [
            asyncio.create_task(
                client.execute(LOGIN, {"email": victim.email, "password": f"wrong-guess-{n}"})
            )
            for n in range(BURST)
        ]
        await asyncio.wait_for(gated.all_waiting.wait(), timeout=30)
        parked_with_connections = len(checked_out)
        read = await asyncio.wait_for(client.execute("{ events { totalCount } }"), timeout=30)
        pending_while_read_answered = sum(not task.done() for task in logins)
        gated.gate.set()
        answers = await asyncio.gather(*logins)

    assert parked_with_connections == 0
    assert read["data"]["events"]["totalCount"] == 0
    assert pending_while_read_answered == BURST
    codes = [a["data"]["login"]["errors"][0]["code"] for a in answers]
    assert codes == ["INVALID_CREDENTIALS"] * BURST
