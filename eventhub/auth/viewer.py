"""Who is asking: resolved once per request from the Bearer token.

The token's signature and expiry are checked first; then the user is read
from the database, so a deactivated account or a changed role takes effect
at once instead of when the token expires.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.auth.access_tokens import AccessTokenCodec, InvalidAccessToken
from eventhub.services import users


@dataclass(frozen=True)
class Viewer:
    user_id: int | None = None
    roles: frozenset[str] = frozenset()
    problem: str | None = None  # why a presented token was not accepted
    expires_at: int | None = None  # when the access token expires (epoch seconds)

    @property
    def is_authenticated(self) -> bool:
        return self.user_id is not None

    def has_any_role(self, roles: frozenset[str]) -> bool:
        return bool(self.roles & roles)


ANONYMOUS = Viewer()


def bearer_token(header_value: str | None) -> str | None:
    if not header_value:
        return None
    scheme, _, token = header_value.strip().partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else ""


async def resolve_viewer(
    session: AsyncSession, codec: AccessTokenCodec, token: str | None
) -> Viewer:
    if token is None:
        return ANONYMOUS
    try:
        claims = codec.decode(token)
    except InvalidAccessToken as error:
        return Viewer(problem=str(error))
    roles = await users.active_roles(session, claims.user_id)
    if roles is None:
        return Viewer(problem="this account is deactivated")
    return Viewer(user_id=claims.user_id, roles=roles, expires_at=claims.expires_at)
