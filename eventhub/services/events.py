"""Events and their tiers: creation, edits, publishing, staff. Only the organizer or an admin."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import Enum

from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.live import signals
from eventhub.models import Event, EventStaff, Order, PromoCode, TicketType
from eventhub.models.statuses import EventStatus, OrderStatus
from eventhub.services import (
    access,
    audit,
    intent_cancels,
    money,
    orders,
    outbox,
    promos,
    refunds,
    users,
)
from eventhub.services.errors import (
    Conflict,
    NotFound,
    PaymentFailed,
    PermissionDenied,
    ValidationFailed,
)
from eventhub.services.payments import PaymentProvider

MAX_TIERS = 50


class Unchanged(Enum):
    """Marks an edit that leaves a nullable field alone (None there means "clear it")."""

    KEEP = "keep"


@dataclass(frozen=True)
class NewTicketType:
    name: str
    price: Decimal
    limit: int
    sales_start_at: datetime | None = None
    sales_end_at: datetime | None = None


@dataclass(frozen=True)
class NewEvent:
    name: str
    starts_at: datetime
    capacity: int
    ticket_types: list[NewTicketType]
    description: str | None = None
    venue: str | None = None
    ends_at: datetime | None = None
    currency: str = "USD"
    promo_codes: list[promos.NewPromoCode] = field(default_factory=list)
    max_per_customer: int | None = None


@dataclass(frozen=True)
class EventChanges:
    name: str | None = None
    description: str | None = None
    venue: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    capacity: int | None = None
    max_per_customer: int | Unchanged | None = Unchanged.KEEP


def _text(value: str, field_name: str, max_length: int) -> str:
    value = value.strip()
    if not value or len(value) > max_length:
        raise ValidationFailed(
            f"{field_name} must be 1 to {max_length} characters", field=field_name
        )
    return value


def _optional_text(value: str | None, field_name: str, max_length: int) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > max_length:
        raise ValidationFailed(
            f"{field_name} must be at most {max_length} characters", field=field_name
        )
    return value.strip()


def _checked_cap(cap: int | None) -> int | None:
    """A fair-share cap is a positive seat count, or None for no cap."""
    if cap is not None and cap < 1:
        raise ValidationFailed("maxPerCustomer must be at least 1", field="maxPerCustomer")
    return cap


def _check_times(starts_at: datetime, ends_at: datetime | None) -> None:
    if ends_at is not None and ends_at <= starts_at:
        raise ValidationFailed("endsAt must be after startsAt", field="endsAt")


def build_ticket_type(data: NewTicketType, currency: str, field_name: str) -> TicketType:
    if data.limit < 0:
        raise ValidationFailed("limit must be 0 or more", field=f"{field_name}.limit")
    if data.sales_start_at and data.sales_end_at and data.sales_end_at <= data.sales_start_at:
        raise ValidationFailed(
            "salesEndAt must be after salesStartAt", field=f"{field_name}.salesEndAt"
        )
    # event_id is filled in by the caller once the event row has its id.
    return TicketType(  # type: ignore[call-arg]
        name=_text(data.name, f"{field_name}.name", 100),
        price_minor=money.to_minor(data.price, currency, field=f"{field_name}.price"),
        seat_limit=data.limit,
        sales_start_at=data.sales_start_at,
        sales_end_at=data.sales_end_at,
    )


def _build_tiers(data: list[NewTicketType], currency: str) -> list[TicketType]:
    if not data:
        raise ValidationFailed("an event needs at least one ticket type", field="ticketTypes")
    if len(data) > MAX_TIERS:
        raise ValidationFailed(f"at most {MAX_TIERS} ticket types", field="ticketTypes")
    tiers = [build_ticket_type(t, currency, "ticketTypes") for t in data]
    if len({t.name.lower() for t in tiers}) != len(tiers):
        raise ValidationFailed("ticket type names must be unique", field="ticketTypes.name")
    for position, tier in enumerate(tiers):
        tier.position = position
    return tiers


def _build_promos(
    data: list[promos.NewPromoCode], currency: str, tiers: list[TicketType]
) -> list[PromoCode]:
    built = [promos.build_promo(p, currency, tiers) for p in data]
    if len({p.code for p in built}) != len(built):
        raise ValidationFailed("promo codes must be unique per event", field="promoCodes.code")
    return built


async def create_event(session: AsyncSession, data: NewEvent, actor: audit.Actor) -> Event:
    """Create a DRAFT event with its tiers and promo codes, all or nothing."""
    assert actor.user_id is not None
    currency = money.normalize_currency(data.currency)
    if data.capacity < 1:
        raise ValidationFailed("capacity must be at least 1", field="capacity")
    _check_times(data.starts_at, data.ends_at)
    tiers = _build_tiers(data.ticket_types, currency)
    codes = _build_promos(data.promo_codes, currency, tiers)
    event = Event(
        organizer_id=actor.user_id,
        name=_text(data.name, "name", 200),
        description=_optional_text(data.description, "description", 10_000),
        venue=_optional_text(data.venue, "venue", 300),
        starts_at=data.starts_at,
        ends_at=data.ends_at,
        capacity=data.capacity,
        currency=currency,
        max_per_customer=_checked_cap(data.max_per_customer),
    )
    session.add(event)
    await session.flush()
    for child in (*tiers, *codes):
        assert event.id is not None
        child.event_id = event.id
        session.add(child)
    audit.record(
        session,
        actor,
        "event.create",
        target_type="Event",
        target_id=event.id,
        details={
            "name": event.name,
            "capacity": event.capacity,
            "max_per_customer": event.max_per_customer,
        },
    )
    await session.commit()
    return event


async def get_event(session: AsyncSession, event_id: int) -> Event | None:
    return await session.get(Event, event_id)


async def owned_event(
    session: AsyncSession, event_id: int, actor: audit.Actor, *, for_update: bool = False
) -> Event:
    """The event if the actor organizes it (or is an admin); otherwise audit and refuse."""
    query = select(Event).where(col(Event.id) == event_id)
    if for_update and session.bind is not None and session.bind.dialect.name == "postgresql":
        query = query.with_for_update()
    event = (await session.scalars(query)).first()
    if event is None:
        raise NotFound("no such event", field="id")
    if not access.may_manage_event(actor, event):
        await audit.record_now(
            session, actor, "event.access_denied", target_type="Event", target_id=event_id
        )
        raise PermissionDenied("you do not organize this event")
    return event


async def update_event(
    session: AsyncSession, event_id: int, changes: EventChanges, actor: audit.Actor
) -> Event:
    event = await owned_event(session, event_id, actor, for_update=True)
    if event.status == EventStatus.CANCELLED:
        raise Conflict("a cancelled event cannot be edited")
    if changes.name is not None:
        event.name = _text(changes.name, "name", 200)
    if changes.description is not None:
        event.description = _optional_text(changes.description, "description", 10_000)
    if changes.venue is not None:
        event.venue = _optional_text(changes.venue, "venue", 300)
    event.starts_at = changes.starts_at or event.starts_at
    event.ends_at = changes.ends_at or event.ends_at
    _check_times(event.starts_at, event.ends_at)
    if changes.capacity is not None:
        await _change_capacity(session, event, changes.capacity)
    if not isinstance(changes.max_per_customer, Unchanged):
        # A lower cap refuses new seats only; seats already held stay held.
        event.max_per_customer = _checked_cap(changes.max_per_customer)
    audit.record(
        session,
        actor,
        "event.update",
        target_type="Event",
        target_id=event.id,
        details=_changed_fields(changes),
    )
    await signals.changed(session, event.id or 0)  # capacity and remaining, never stale
    await outbox.event_changed(session, event, "event.updated")
    await session.commit()
    return event


def _changed_fields(changes: EventChanges) -> dict[str, object]:
    """What the edit set, for the audit trail (a cleared cap shows as None)."""
    changed = {k: v for k, v in vars(changes).items() if v is not None}
    if changes.max_per_customer is None:
        changed["max_per_customer"] = None
    elif isinstance(changes.max_per_customer, Unchanged):
        del changed["max_per_customer"]
    return changed


async def _change_capacity(session: AsyncSession, event: Event, capacity: int) -> None:
    """Never below what is sold: the CHECK constraint backs this up under races."""
    if capacity < 1:
        raise ValidationFailed("capacity must be at least 1", field="capacity")
    await session.refresh(event, ["sold"])
    if capacity < event.sold:
        raise ValidationFailed(
            f"capacity cannot go below the {event.sold} seats already sold", field="capacity"
        )
    event.capacity = capacity


async def publish_event(session: AsyncSession, event_id: int, actor: audit.Actor) -> Event:
    event = await owned_event(session, event_id, actor)
    if event.status == EventStatus.CANCELLED:
        raise Conflict("a cancelled event cannot be published")
    if event.status != EventStatus.PUBLISHED:
        event.status = EventStatus.PUBLISHED
        audit.record(session, actor, "event.publish", target_type="Event", target_id=event.id)
        await signals.changed(session, event_id)  # it joins the public listing
        await outbox.event_changed(session, event, "event.published")
        await session.commit()
    return event


async def add_ticket_type(
    session: AsyncSession, event_id: int, data: NewTicketType, actor: audit.Actor
) -> Event:
    event = await owned_event(session, event_id, actor)
    if event.status == EventStatus.CANCELLED:
        raise Conflict("a cancelled event cannot be changed")
    existing = await list_ticket_types(session, event_id)
    if len(existing) >= MAX_TIERS:
        raise ValidationFailed(f"at most {MAX_TIERS} ticket types", field="input")
    tier = build_ticket_type(data, event.currency, "input")
    if tier.name.lower() in {t.name.lower() for t in existing}:
        raise ValidationFailed("ticket type names must be unique", field="input.name")
    tier.event_id = event_id
    tier.position = len(existing)
    session.add(tier)
    audit.record(
        session,
        actor,
        "event.add_ticket_type",
        target_type="Event",
        target_id=event_id,
        details={"name": tier.name, "limit": tier.seat_limit},
    )
    await signals.changed(session, event_id)
    await _commit_unique(session, "a ticket type with this name already exists", "input.name")
    return event


async def add_promo_code(
    session: AsyncSession, event_id: int, data: promos.NewPromoCode, actor: audit.Actor
) -> Event:
    event = await owned_event(session, event_id, actor)
    if event.status == EventStatus.CANCELLED:
        raise Conflict("a cancelled event cannot be changed")
    tiers = await list_ticket_types(session, event_id)
    promo = promos.build_promo(data, event.currency, tiers, field="input")
    promo.event_id = event_id
    session.add(promo)
    audit.record(
        session,
        actor,
        "event.add_promo_code",
        target_type="Event",
        target_id=event_id,
        details={"code": promo.code},
    )
    await _commit_unique(session, "this promo code already exists for the event", "input.code")
    return event


async def assign_staff(
    session: AsyncSession, event_id: int, email: str, actor: audit.Actor
) -> None:
    """Give the account with this email the STAFF role and the right to scan this event.

    The answer is the same whether or not the email has an account, so the
    mutation cannot be used to learn who is registered; an unknown email is
    only audited.
    """
    await owned_event(session, event_id, actor)
    user = await users.find_by_email(session, email)
    if user is None:
        audit.record(
            session,
            actor,
            "event.assign_staff_unknown",
            target_type="Event",
            target_id=event_id,
            details={"email": users.normalize_email(email)[:254]},
        )
        await session.commit()
        return
    if "STAFF" not in user.role_set:
        user.roles = ",".join(users.normalize_roles([*user.role_set, "STAFF"]))
    already = await session.get(EventStaff, (event_id, user.id))
    if already is None:
        session.add(EventStaff(event_id=event_id, user_id=user.id))  # type: ignore[arg-type]
        audit.record(
            session,
            actor,
            "event.assign_staff",
            target_type="Event",
            target_id=event_id,
            details={"user_id": user.id},
        )
    await session.commit()


async def is_staff(session: AsyncSession, event_id: int, user_id: int) -> bool:
    return await session.get(EventStaff, (event_id, user_id)) is not None


async def list_ticket_types(session: AsyncSession, event_id: int) -> list[TicketType]:
    rows = await session.scalars(
        select(TicketType).where(TicketType.event_id == event_id).order_by(TicketType.position)  # type: ignore[arg-type]
    )
    return list(rows.all())


async def _commit_unique(session: AsyncSession, message: str, field_name: str) -> None:
    try:
        await session.commit()
    except IntegrityError:
        await session.rollback()
        raise ValidationFailed(message, field=field_name) from None


async def cancel_event(
    session: AsyncSession, event_id: int, actor: audit.Actor, provider: PaymentProvider
) -> Event:
    """Cancel the event, release every hold and refund every paid order.

    Safe to run again: a refund the provider failed is retried, finished ones are skipped.
    """
    event = await owned_event(session, event_id, actor)
    if event.status != EventStatus.CANCELLED:
        event.status = EventStatus.CANCELLED
        audit.record(session, actor, "event.cancel", target_type="Event", target_id=event_id)
        await outbox.event_changed(session, event, "event.cancelled")
        await signals.changed(session, event_id)
        await session.commit()
    pending, paid = await orders.live_order_ids(session, event_id)
    for order_id in pending:
        # Fresh each time: a hold lost to the sweeper rolls back and expires loaded objects.
        hold = await orders.reload(session, order_id)
        if hold.status == OrderStatus.PENDING and await orders.cancel_hold(session, hold, actor):
            await intent_cancels.cancel_intent(session, order_id, provider)
    failures = 0
    for order_id in paid:
        order = await orders.reload(session, order_id)
        if order.status != OrderStatus.PAID:
            continue
        try:
            await refunds.refund_paid(
                session, order, actor, provider, "order.event_refund", "event cancelled"
            )
        except PaymentFailed:
            failures += 1
    if failures:
        raise PaymentFailed(
            f"{failures} refunds did not go through; run cancelEvent again to retry"
        )
    await session.refresh(event)
    return event


async def delete_event(session: AsyncSession, event_id: int, actor: audit.Actor) -> int:
    """Only while nothing was ever ordered: order history is never deleted."""
    event = await owned_event(session, event_id, actor, for_update=True)
    has_orders = await session.scalar(
        select(col(Order.id)).where(col(Order.event_id) == event_id).limit(1)
    )
    if event.sold > 0 or has_orders is not None:
        raise Conflict("this event has orders; cancel it instead", field="id")
    await session.execute(delete(EventStaff).where(col(EventStaff.event_id) == event_id))
    await session.execute(delete(PromoCode).where(col(PromoCode.event_id) == event_id))
    await session.execute(delete(TicketType).where(col(TicketType.event_id) == event_id))
    await session.delete(event)
    await signals.changed(session, event_id)  # its watchers learn it is gone
    audit.record(
        session,
        actor,
        "event.delete",
        target_type="Event",
        target_id=event_id,
        details={"name": event.name},
    )
    await session.commit()
    return event_id
