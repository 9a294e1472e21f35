"""Admin oversight: users, their roles and the audit trail."""

from __future__ import annotations

from eventhub.global_ids import decode_id
from eventhub.models import AuditEntry, User
from eventhub.resolvers.context import RequestContext
from eventhub.resolvers.outcomes import Result, attempt
from eventhub.resolvers.paging import after_id, page_size
from eventhub.services import audit, users
from eventhub.services.errors import NotFound
from eventhub.services.pagination import Page


async def list_users(
    ctx: RequestContext, first: int | None, after: str | None, search: str | None
) -> Page[User]:
    return await users.list_users(
        ctx.session, limit=page_size(first), after_id=after_id(after), search=search
    )


def _user_pk(user_id: str) -> int:
    pk = decode_id(user_id, "User")
    if pk is None:
        raise NotFound("no such user", field="userId")
    return pk


async def set_roles(ctx: RequestContext, user_id: str, roles: list[str]) -> Result[User]:
    actor = await ctx.actor()
    return await attempt(lambda: users.set_roles(ctx.session, _user_pk(user_id), roles, actor))


async def deactivate(ctx: RequestContext, user_id: str) -> Result[User]:
    actor = await ctx.actor()
    return await attempt(lambda: users.deactivate(ctx.session, _user_pk(user_id), actor))


async def audit_log(
    ctx: RequestContext,
    first: int | None,
    after: str | None,
    action: str | None,
    actor_id: str | None,
) -> Page[AuditEntry]:
    actor_pk = decode_id(actor_id, "User") if actor_id else None
    if actor_id and actor_pk is None:
        return Page.empty()
    return await audit.list_entries(
        ctx.session,
        limit=page_size(first),
        before_id=after_id(after),
        action=action,
        actor_id=actor_pk,
    )
