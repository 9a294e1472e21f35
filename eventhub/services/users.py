"""Accounts: who may register, with which roles, and what admins may change."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col
from zxcvbn import zxcvbn

from eventhub.models import Event, Order, RefreshToken, User
from eventhub.models.statuses import PAID_ONCE
from eventhub.models.users import ROLES
from eventhub.services import audit
from eventhub.services.errors import Conflict, EmailTaken, NotFound, ValidationFailed
from eventhub.services.pagination import Page, fetch_page
from eventhub.services.text_search import contains

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 256
MIN_PASSWORD_SCORE = 3  # zxcvbn: "safely unguessable: moderate protection from offline attack"
ZXCVBN_MAX_INPUT = 72  # zxcvbn refuses longer input; the first 72 characters decide
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_COUNTRY = re.compile(r"^[A-Z]{2}$")
SELF_ASSIGNABLE_ROLES = frozenset({"CUSTOMER", "ORGANIZER"})


@dataclass(frozen=True)
class Registration:
    email: str
    password: str
    name: str
    as_organizer: bool = False
    birth_year: int | None = None
    country: str | None = None


def normalize_email(email: str) -> str:
    return email.strip().lower()


def check_password_policy(password: str, email: str) -> None:
    """At least 10 characters, not the email (or its local part), and hard to guess."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must be at least {MIN_PASSWORD_LENGTH} characters", field="password"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"password must be at most {MAX_PASSWORD_LENGTH} characters", field="password"
        )
    lowered = password.strip().lower()
    email = normalize_email(email)
    if lowered in (email, email.split("@", 1)[0]):
        raise ValidationFailed("password must not be your email address", field="password")
    check_password_strength(password, email)


def check_password_strength(password: str, email: str) -> None:
    """Refuse what zxcvbn rates below 3: common words, repeats, sequences, the email itself."""
    local = email.split("@", 1)[0]
    words = [w for w in re.split(r"[^a-z0-9]+", local) if w]
    user_inputs = [email, local, "".join(words), *words]
    strength = zxcvbn(password[:ZXCVBN_MAX_INPUT], user_inputs=user_inputs)
    if strength["score"] < MIN_PASSWORD_SCORE:
        feedback = strength["feedback"]
        hint = feedback.get("warning") or " ".join(feedback.get("suggestions") or [])
        message = "password is too easy to guess"
        raise ValidationFailed(f"{message}: {hint}" if hint else message, field="password")


def validate_registration(data: Registration) -> Registration:
    """Return the registration normalized, or raise ValidationFailed naming the field."""
    email = normalize_email(data.email)
    if len(email) > 254 or not _EMAIL.match(email):
        raise ValidationFailed("email is not a valid address", field="email")
    name = data.name.strip()
    if not name or len(name) > 200:
        raise ValidationFailed("name must be 1 to 200 characters", field="name")
    check_password_policy(data.password, email)
    this_year = datetime.now(UTC).year
    if data.birth_year is not None and not (1900 <= data.birth_year <= this_year):
        raise ValidationFailed(f"birthYear must be between 1900 and {this_year}", field="birthYear")
    country = data.country.strip().upper() if data.country else None
    if country is not None and not _COUNTRY.match(country):
        raise ValidationFailed("country must be an ISO 3166-1 alpha-2 code", field="country")
    return Registration(email, data.password, name, data.as_organizer, data.birth_year, country)


async def create_user(
    session: AsyncSession, data: Registration, password_hash: str, actor: audit.Actor
) -> User:
    """Insert a validated registration; the unique email index decides races."""
    roles = ["CUSTOMER", "ORGANIZER"] if data.as_organizer else ["CUSTOMER"]
    user = User(
        email=data.email,
        name=data.name,
        password_hash=password_hash,
        roles=",".join(roles),
        birth_year=data.birth_year,
        country=data.country,
    )
    session.add(user)
    try:
        await session.flush()
    except IntegrityError:
        await session.rollback()
        raise EmailTaken("an account with this email already exists", field="email") from None
    audit.record(
        session,
        audit.Actor(user.id, actor.ip),
        "user.register",
        target_type="User",
        target_id=user.id,
        details={"roles": roles},
    )
    await session.commit()
    return user


async def find_by_email(session: AsyncSession, email: str) -> User | None:
    result = await session.scalars(select(User).where(col(User.email) == normalize_email(email)))
    return result.first()


async def get_user(session: AsyncSession, user_id: int) -> User | None:
    return await session.get(User, user_id)


async def active_roles(session: AsyncSession, user_id: int) -> frozenset[str] | None:
    """The roles of an active account, or None (gone or deactivated).

    Two columns through Core instead of the whole entity: every signed-in request
    asks this, so deactivation and role changes take effect at once, cheaply.
    """
    row = (
        await session.execute(
            select(col(User.roles), col(User.is_active)).where(col(User.id) == user_id)
        )
    ).first()
    if row is None or not row.is_active:
        return None
    return frozenset(r for r in str(row.roles).split(",") if r)


async def active_roles_of(
    session: AsyncSession, user_ids: Collection[int]
) -> dict[int, frozenset[str]]:
    """`active_roles` for many accounts in one query; a gone or deactivated one is absent.

    The WebSocket guard asks this every second for every signed-in socket's account.
    """
    if not user_ids:
        return {}
    rows = await session.execute(
        select(col(User.id), col(User.roles)).where(
            col(User.id).in_(list(user_ids)), col(User.is_active).is_(True)
        )
    )
    return {int(row.id): frozenset(r for r in str(row.roles).split(",") if r) for row in rows}


def normalize_roles(roles: list[str]) -> list[str]:
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ValidationFailed(f"unknown roles: {', '.join(unknown)}", field="roles")
    return [r for r in ROLES if r in roles]  # canonical order, no duplicates


async def set_roles(
    session: AsyncSession, user_id: int, roles: list[str], actor: audit.Actor
) -> User:
    """Replace a user's roles; never the last active admin's ADMIN."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user", field="userId")
    after = normalize_roles(roles)
    if "ADMIN" not in after:
        user = await _keep_an_admin(session, user, "drop the ADMIN role")
    before = user.roles
    user.roles = ",".join(after)
    audit.record(
        session,
        actor,
        "user.set_roles",
        target_type="User",
        target_id=user_id,
        details={"before": before.split(",") if before else [], "after": user.roles.split(",")},
    )
    await session.commit()
    return user


async def deactivate(session: AsyncSession, user_id: int, actor: audit.Actor) -> User:
    """Deactivate and revoke every refresh token, so no session of theirs survives.

    The last active admin cannot be deactivated: nobody could then grant roles.
    """
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no such user", field="userId")
    user = await _keep_an_admin(session, user, "be deactivated")
    if user.is_active:
        now = datetime.now(UTC)
        user.is_active = False
        user.deactivated_at = now
        await session.execute(
            update(RefreshToken)
            .where(col(RefreshToken.user_id) == user_id, col(RefreshToken.revoked_at).is_(None))
            .values(revoked_at=now)
        )
        audit.record(session, actor, "user.deactivate", target_type="User", target_id=user_id)
        await session.commit()
    return user


def _is_active_admin(user: User) -> bool:
    return user.is_active and "ADMIN" in user.role_set


async def _keep_an_admin(session: AsyncSession, user: User, change: str) -> User:
    """Refuse a change that would leave no active admin; the user as it is now otherwise.

    Every active admin's row is locked first (PostgreSQL, in id order: no deadlock),
    so two admins stepping down at once cannot both see the other one remaining;
    on SQLite every write transaction is already serialized (BEGIN IMMEDIATE).
    """
    if not _is_active_admin(user):
        return user
    locked = await session.scalars(
        select(col(User.id))
        .where(col(User.is_active), col(User.roles).contains("ADMIN"))
        .order_by(col(User.id))
        .with_for_update()
    )
    others = set(locked.all()) - {user.id}
    fresh = await session.get(User, user.id, populate_existing=True)
    assert fresh is not None  # users are deactivated, never deleted
    if _is_active_admin(fresh) and not others:
        await session.rollback()
        raise Conflict(f"the last active admin cannot {change}", field="userId")
    return fresh


async def list_users(
    session: AsyncSession, *, limit: int, after_id: int | None, search: str | None
) -> Page[User]:
    conditions = []
    if search:
        conditions.append(or_(contains(col(User.email), search), contains(col(User.name), search)))
    return await fetch_page(
        session,
        User,
        conditions=conditions,
        after=None if after_id is None else col(User.id) > after_id,
        order_by=[col(User.id)],
        limit=limit,
    )


async def load_users(session: AsyncSession, ids: list[int]) -> list[User | None]:
    """Batch load for dataloaders, in the order asked."""
    rows = await session.scalars(select(User).where(col(User.id).in_(ids)))
    by_id = {u.id: u for u in rows}
    return [by_id.get(i) for i in ids]


async def email_visibility(
    session: AsyncSession, viewer_id: int | None, viewer_is_admin: bool, user_ids: list[int]
) -> list[bool]:
    """Whether the viewer may read each user's email, in the order asked (one query at most).

    Their own, anyone's for an admin, and the buyers (PAID or REFUNDED orders) of
    events the viewer organizes; nobody else's. So an organizer's address is never
    public: it shows only to admins and to organizers they bought tickets from.
    """
    if viewer_id is None:
        return [False] * len(user_ids)
    if viewer_is_admin:
        return [True] * len(user_ids)
    others = {i for i in user_ids if i != viewer_id}
    buyers: set[int] = set()
    if others:
        rows = await session.scalars(
            select(col(Order.buyer_id))
            .join(Event, col(Event.id) == col(Order.event_id))
            .where(
                col(Event.organizer_id) == viewer_id,
                col(Order.buyer_id).in_(others),
                col(Order.status).in_(PAID_ONCE),
            )
            .distinct()
        )
        buyers = set(rows.all())
    return [i == viewer_id or i in buyers for i in user_ids]


async def ensure_admin(
    session: AsyncSession, data: Registration, password_hash: str
) -> tuple[User, bool]:
    """Create an admin, or add ADMIN to an existing account; (user, created)."""
    existing = await find_by_email(session, data.email)
    if existing is not None:
        existing.roles = ",".join(normalize_roles([*existing.role_set, "ADMIN"]))
        audit.record(
            session, audit.SYSTEM, "user.promote_admin", target_type="User", target_id=existing.id
        )
        await session.commit()
        return existing, False
    user = User(
        email=data.email, name=data.name, password_hash=password_hash, roles="CUSTOMER,ADMIN"
    )
    session.add(user)
    await session.flush()
    audit.record(session, audit.SYSTEM, "user.create_admin", target_type="User", target_id=user.id)
    await session.commit()
    return user, True
