"""Schema directives printed in the SDL so third parties can see guards and costs."""

from __future__ import annotations

import strawberry
from strawberry.schema_directive import Location

from eventhub.schema.roles import Role


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="requiresRole",
    description="Guards a field: the caller must hold at least one of the roles.",
)
class RequiresRole:
    roles: list[Role]


@strawberry.schema_directive(
    locations=[Location.FIELD_DEFINITION],
    name="cost",
    description="Relative cost of resolving the field, used by the query cost budget.",
)
class Cost:
    weight: int
