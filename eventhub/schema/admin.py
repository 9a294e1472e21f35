"""Root fields for admins: users, roles and the audit trail."""

from __future__ import annotations

import strawberry
from strawberry.types import Info

from eventhub.resolvers import admin
from eventhub.schema.audit import AuditEntryConnection
from eventhub.schema.permissions import requires_role
from eventhub.schema.roles import Role
from eventhub.schema.users import UserConnection, UserPayload


@strawberry.type
class AdminQuery:
    @strawberry.field(extensions=requires_role(Role.ADMIN))
    async def users(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        search: str | None = None,
    ) -> UserConnection:
        return UserConnection.of(await admin.list_users(info.context, first, after, search))

    @strawberry.field(extensions=requires_role(Role.ADMIN))
    async def audit_log(
        self,
        info: Info,
        first: int | None = 20,
        after: str | None = None,
        action: str | None = None,
        actor_id: strawberry.ID | None = None,
    ) -> AuditEntryConnection:
        page = await admin.audit_log(info.context, first, after, action, actor_id)
        return AuditEntryConnection.of(page)


@strawberry.type
class AdminMutation:
    @strawberry.mutation(extensions=requires_role(Role.ADMIN))
    async def set_user_roles(
        self, info: Info, user_id: strawberry.ID, roles: list[Role]
    ) -> UserPayload:
        names = [role.value for role in roles]
        return UserPayload.of(await admin.set_roles(info.context, user_id, names))

    @strawberry.mutation(extensions=requires_role(Role.ADMIN))
    async def deactivate_user(self, info: Info, user_id: strawberry.ID) -> UserPayload:
        return UserPayload.of(await admin.deactivate(info.context, user_id))
