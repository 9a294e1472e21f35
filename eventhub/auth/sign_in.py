"""Register, log in, refresh and log out: each returns tokens or raises a DomainError.

Every outcome that matters to security (success, failure, token reuse,
logout) is audited.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.auth import refresh_tokens
from eventhub.auth.access_tokens import AccessTokenCodec
from eventhub.auth.login_throttle import LoginThrottle, ThrottlePolicy
from eventhub.auth.passwords import PasswordHasher
from eventhub.models import User
from eventhub.services import audit, users
from eventhub.services.errors import InvalidCredentials, TokenReused
from eventhub.services.limit_storage import LimitStorage


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    access_token_expires_at: datetime
    refresh_token: str
    user: User


@dataclass(frozen=True)
class Authenticator:
    """What sign-in needs from the app: the hasher, the token codec and refresh TTL."""

    hasher: PasswordHasher
    codec: AccessTokenCodec
    refresh_ttl: int
    throttle: LoginThrottle = field(
        default_factory=lambda: LoginThrottle(LimitStorage(None, "eventhub"), ThrottlePolicy())
    )

    async def register(
        self, session: AsyncSession, data: users.Registration, actor: audit.Actor
    ) -> TokenPair:
        data = users.validate_registration(data)
        await session.commit()  # hand any connection back: argon2 may queue for a while
        password_hash = await self.hasher.hash(data.password)
        user = await users.create_user(session, data, password_hash, actor)
        return await self._issue(session, user)

    async def login(
        self, session: AsyncSession, email: str, password: str, actor: audit.Actor
    ) -> TokenPair:
        email = users.normalize_email(email)[:254]
        await self.throttle.check(email, actor.ip)  # before any database read or hash
        user = await users.find_by_email(session, email)
        # End the read's transaction before argon2: a login waiting for a hashing slot
        # must not hold a pooled connection that other requests need.
        await session.commit()
        if user is None:
            await self.hasher.verify_nobody(password)
        ok = user is not None and await self.hasher.verify(user.password_hash, password)
        if user is None or not ok or not user.is_active:
            await self.throttle.failed(email, actor.ip)
            await audit.record_now(
                session,
                audit.Actor(user.id if user else None, actor.ip),
                "auth.login_failed",
                target_type="User",
                target_id=user.id if user else None,
                details={
                    "email": email,
                    "reason": "inactive" if ok else "bad credentials",
                },
            )
            raise InvalidCredentials("email or password is incorrect")
        await self.throttle.succeeded(email, actor.ip)
        audit.record(
            session,
            audit.Actor(user.id, actor.ip),
            "auth.login",
            target_type="User",
            target_id=user.id,
        )
        return await self._issue(session, user)

    async def refresh(self, session: AsyncSession, token: str, actor: audit.Actor) -> TokenPair:
        try:
            rotation = await refresh_tokens.rotate(session, token, self.refresh_ttl)
        except TokenReused as reuse:
            # The presenter may be the thief: the entry names the account whose sessions died.
            await audit.record_now(
                session,
                actor,
                "auth.token_reuse",
                target_type="User",
                target_id=reuse.user_id,
                details={"family_id": reuse.family_id},
            )
            raise
        user = await users.get_user(session, rotation.user_id)
        if user is None or not user.is_active:
            await session.rollback()
            raise InvalidCredentials("this account is deactivated")
        access, expires_at = self.codec.issue(user.id or 0, user.role_set)
        await session.commit()
        return TokenPair(access, expires_at, rotation.new_token, user)

    async def logout(self, session: AsyncSession, token: str, actor: audit.Actor) -> bool:
        user_id = await refresh_tokens.revoke(session, token)
        if user_id is None:
            return False
        audit.record(
            session,
            audit.Actor(user_id, actor.ip),
            "auth.logout",
            target_type="User",
            target_id=user_id,
        )
        await session.commit()
        return True

    async def _issue(self, session: AsyncSession, user: User) -> TokenPair:
        assert user.id is not None
        refresh = refresh_tokens.issue(session, user.id, self.refresh_ttl)
        access, expires_at = self.codec.issue(user.id, user.role_set)
        await session.commit()
        return TokenPair(access, expires_at, refresh, user)
