"""Root fields for signing up, signing in and the viewer's account."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from eventhub.resolvers import accounts
from eventhub.schema.users import AuthPayload, RegisterInput, User


@strawberry.type
class AccountQuery:
    @strawberry.field
    async def me(self, info: Info) -> User | None:
        return User.maybe(await accounts.me(info.context))


@strawberry.type
class AccountMutation:
    @strawberry.mutation
    async def register(self, info: Info, input: RegisterInput) -> AuthPayload:
        return AuthPayload.of(await accounts.register(info.context, input.to_registration()))

    @strawberry.mutation
    async def login(self, info: Info, email: str, password: str) -> AuthPayload:
        return AuthPayload.of(await accounts.login(info.context, email, password))

    @strawberry.mutation(description="single use: every refresh returns a new refresh token")
    async def refresh_token(self, info: Info, refresh_token: str) -> AuthPayload:
        return AuthPayload.of(await accounts.refresh(info.context, refresh_token))

    @strawberry.mutation
    async def logout(self, info: Info, refresh_token: str) -> bool:
        return await accounts.logout(info.context, refresh_token)
