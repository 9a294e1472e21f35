"""The token guard: a signed-in socket is closed with 4403 once its account is deactivated
or loses a role it had when the socket opened; a bad token is refused with 4401."""

from __future__ import annotations

from typing import Any

import pytest

from eventhub.global_ids import decode_id
from eventhub.services import audit, users
from eventhub.web.socket_tokens import SocketRefused, TokenGuard
from tests.support.graphql import GraphQLClient


async def test_deactivation_and_a_lost_role_close_the_socket_with_4403(
    app: Any, client: GraphQLClient
) -> None:
    state = app.state.eventhub
    guard = TokenGuard(state.codec, state.session_factory)
    closed: dict[str, tuple[int, str]] = {}
    accounts = {name: await client.register(organizer=True) for name in ("kept", "gone", "demoted")}
    for name, account in accounts.items():

        async def close(code: int, reason: str, name: str = name) -> None:
            closed[name] = (code, reason)

        assert await guard.admit(name, f"Bearer {account.token}", close)
    assert await guard.sweep() == 0

    system = audit.Actor()
    async with state.session_factory() as session:
        await users.deactivate(session, decode_id(accounts["gone"].id, "User") or 0, system)
        demoted = decode_id(accounts["demoted"].id, "User") or 0
        await users.set_roles(session, demoted, ["CUSTOMER"], system)
    assert await guard.sweep() == 2
    assert closed == {
        "gone": (4403, "this account is deactivated"),
        "demoted": (4403, "this account's roles changed; reconnect with a new token"),
    }
    assert set(guard.sockets) == {"kept"}

    async def never(code: int, reason: str) -> None:
        raise AssertionError("a refused socket is never guarded")

    for token in ("Bearer not-a-jwt", "Basic abc"):
        with pytest.raises(SocketRefused) as refused:
            await guard.admit("bad", token, never)
        assert refused.value.code == 4401
    with pytest.raises(SocketRefused) as refused:
        await guard.admit("deactivated", f"Bearer {accounts['gone'].token}", never)
    assert refused.value.code == 4403
    assert not await guard.admit("anonymous", None, never)
