"""Role: the GraphQL enum of what a signed-in user may be (`requiresRole` guards name them)."""

from __future__ import annotations

from enum import Enum

import strawberry


@strawberry.enum
class Role(Enum):
    CUSTOMER = "CUSTOMER"
    ORGANIZER = "ORGANIZER"
    STAFF = "STAFF"
    ADMIN = "ADMIN"
