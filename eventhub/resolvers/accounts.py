"""Sign-up, sign-in, token refresh and the viewer's own account."""

from __future__ import annotations

from eventhub.auth.sign_in import TokenPair
from eventhub.models import User
from eventhub.resolvers.context import RequestContext
from eventhub.resolvers.outcomes import Result, attempt
from eventhub.services import users


async def register(ctx: RequestContext, data: users.Registration) -> Result[TokenPair]:
    actor = await ctx.actor()
    return await attempt(lambda: ctx.app.authenticator.register(ctx.session, data, actor))


async def login(ctx: RequestContext, email: str, password: str) -> Result[TokenPair]:
    actor = await ctx.actor()
    return await attempt(lambda: ctx.app.authenticator.login(ctx.session, email, password, actor))


async def refresh(ctx: RequestContext, token: str) -> Result[TokenPair]:
    actor = await ctx.actor()
    return await attempt(lambda: ctx.app.authenticator.refresh(ctx.session, token, actor))


async def logout(ctx: RequestContext, token: str) -> bool:
    actor = await ctx.actor()
    return await ctx.app.authenticator.logout(ctx.session, token, actor)


async def me(ctx: RequestContext) -> User | None:
    viewer = await ctx.viewer()
    if viewer.user_id is None:
        return None
    return await ctx.loaders.user.load(viewer.user_id)
