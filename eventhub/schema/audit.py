"""The audit trail as admins read it."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from eventhub import models
from eventhub.global_ids import encode_id
from eventhub.resolvers.paging import id_cursor
from eventhub.schema.common import Count, Node, PageInfo, total_count_field
from eventhub.schema.users import User
from eventhub.services.pagination import Page


@strawberry.type
class AuditEntry(Node):
    at: datetime
    action: str
    target_type: str | None
    target_id: str | None
    ip: str | None
    details: str | None
    actor_id: strawberry.Private[int | None]

    @strawberry.field(description="null for the system (expiry sweeper, webhooks)")
    async def actor(self, info: Info) -> User | None:
        if self.actor_id is None:
            return None
        return User.maybe(await info.context.loaders.user.load(self.actor_id))

    @classmethod
    def from_row(cls, row: models.AuditEntry) -> AuditEntry:
        return cls(
            id=strawberry.ID(encode_id("AuditEntry", row.id)),
            at=row.at,
            action=row.action,
            target_type=row.target_type,
            target_id=row.target_id,
            ip=row.ip,
            details=row.details,
            actor_id=row.actor_id,
        )


@strawberry.type
class AuditEntryEdge:
    node: AuditEntry
    cursor: str


@strawberry.type
class AuditEntryConnection:
    edges: list[AuditEntryEdge]
    page_info: PageInfo
    count: strawberry.Private[Count]
    total_count = total_count_field()

    @classmethod
    def of(cls, page: Page[models.AuditEntry]) -> AuditEntryConnection:
        edges = [
            AuditEntryEdge(node=AuditEntry.from_row(e), cursor=id_cursor(e.id)) for e in page.items
        ]
        return cls(
            edges=edges,
            page_info=PageInfo.after(edges, page.has_next),
            count=page.count,
        )
