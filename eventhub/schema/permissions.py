"""The one mechanism that enforces `@requiresRole`: resolvers never check roles by hand."""

from __future__ import annotations

from typing import Any

from graphql import GraphQLError
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension
from strawberry.types import Info
from strawberry.types.field import StrawberryField

from eventhub.schema.directives import RequiresRole
from eventhub.schema.roles import Role


class HasRole(BasePermission):
    """Refuses with UNAUTHENTICATED (no valid token) or FORBIDDEN (no matching role)."""

    def __init__(self, roles: tuple[Role, ...]) -> None:
        self.roles = frozenset(role.value for role in roles)
        # strawberry types this ClassVar, yet documents (and supports) per-instance overrides.
        self._schema_directive = RequiresRole(roles=list(roles))  # type: ignore[misc]

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        viewer = await info.context.viewer()
        if not viewer.is_authenticated:
            message = viewer.problem or "sign in to do this"
            raise GraphQLError(message, extensions={"code": "UNAUTHENTICATED"})
        if not viewer.has_any_role(self.roles):
            needed = " or ".join(sorted(self.roles))
            raise GraphQLError(f"requires the role {needed}", extensions={"code": "FORBIDDEN"})
        return True


def roles_note(roles: tuple[Role, ...]) -> str:
    if len(roles) == 1:
        return f"Requires the role {roles[0].value}."
    return f"Requires one of the roles {', '.join(role.value for role in roles)}."


class RoleGuard(PermissionExtension):
    """Enforces the roles, prints `@requiresRole`, and names the roles in the description.

    Introspection shows no applied directives, so the description is what
    GraphiQL and code generators can show a client developer.
    """

    def __init__(self, roles: tuple[Role, ...]) -> None:
        super().__init__(permissions=[HasRole(roles)], use_directives=True)
        self.note = roles_note(roles)

    def apply(self, field: StrawberryField) -> None:
        super().apply(field)
        description = (field.description or "").strip()
        if self.note in description:  # fields are shared by every schema built
            return
        if description and not description.endswith((".", "!", "?")):
            description += "."
        field.description = f"{description} {self.note}".strip()


def requires_role(*roles: Role) -> list[FieldExtension]:
    """Field extensions that enforce the roles and show them in the SDL and introspection."""
    return [RoleGuard(roles)]
