"""Users, sign-in payloads and admin user lists."""

from __future__ import annotations

from datetime import datetime

import strawberry
from strawberry.types import Info

from eventhub import models
from eventhub.auth.sign_in import TokenPair
from eventhub.global_ids import encode_id
from eventhub.resolvers.outcomes import Result
from eventhub.resolvers.paging import id_cursor
from eventhub.schema.common import Count, Node, PageInfo, UserError, errors_of, total_count_field
from eventhub.schema.roles import Role
from eventhub.services.pagination import Page
from eventhub.services.users import Registration


@strawberry.type
class User(Node):
    name: str
    roles: list[Role]
    created_at: datetime
    row: strawberry.Private[models.User]
    # True when the account is the one just signed in (login, register, refresh):
    # the request carries no token yet, but the email is theirs.
    own: strawberry.Private[bool]

    @classmethod
    def from_row(cls, row: models.User, own: bool = False) -> User:
        return cls(
            id=strawberry.ID(encode_id("User", row.id)),
            name=row.name,
            roles=[Role(r) for r in row.roles.split(",") if r],
            created_at=row.created_at,
            row=row,
            own=own,
        )

    @classmethod
    def maybe(cls, row: models.User | None) -> User | None:
        return None if row is None else cls.from_row(row)

    @strawberry.field(
        description="null unless the viewer is this user, an admin, or the organizer of an "
        "event they bought"
    )
    async def email(self, info: Info) -> str | None:
        if self.own or await info.context.loaders.email_visible.load(self.row.id):
            return self.row.email
        return None


@strawberry.input
class RegisterInput:
    email: str
    password: str
    name: str
    as_organizer: bool | None = strawberry.field(
        default=False,
        description="self-service organizers; ADMIN and STAFF are never self-assigned",
    )
    birth_year: int | None = strawberry.field(
        default=None, description="optional, feeds aggregated demographics only"
    )
    country: str | None = strawberry.field(default=None, description="ISO 3166-1 alpha-2")

    def to_registration(self) -> Registration:
        return Registration(
            email=self.email,
            password=self.password,
            name=self.name,
            as_organizer=bool(self.as_organizer),
            birth_year=self.birth_year,
            country=self.country,
        )


@strawberry.type
class AuthPayload:
    access_token: str | None = None
    refresh_token: str | None = None
    access_token_expires_at: datetime | None = None
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: Result[TokenPair]) -> AuthPayload:
        pair = result.value
        if pair is None:
            return cls(errors=errors_of(result.error))
        return cls(
            access_token=pair.access_token,
            refresh_token=pair.refresh_token,
            access_token_expires_at=pair.access_token_expires_at,
            user=User.from_row(pair.user, own=True),
        )


@strawberry.type
class UserPayload:
    user: User | None = None
    errors: list[UserError] = strawberry.field(default_factory=list)

    @classmethod
    def of(cls, result: Result[models.User]) -> UserPayload:
        return cls(user=User.maybe(result.value), errors=errors_of(result.error))


@strawberry.type
class UserEdge:
    node: User
    cursor: str


@strawberry.type
class UserConnection:
    edges: list[UserEdge]
    page_info: PageInfo
    count: strawberry.Private[Count]
    total_count = total_count_field()

    @classmethod
    def of(cls, page: Page[models.User]) -> UserConnection:
        edges = [UserEdge(node=User.from_row(u), cursor=id_cursor(u.id)) for u in page.items]
        return cls(
            edges=edges,
            page_info=PageInfo.after(edges, page.has_next),
            count=page.count,
        )
