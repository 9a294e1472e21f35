"""Reserving tickets: one transaction that either takes every seat it needs or none.

Order of work inside the transaction matters for throughput: the order, its
items, tickets and the audit entry are inserted first; the conditional
updates on the hot rows (tiers, event, promo code) come last, just before
COMMIT, so their row locks are held for as short a time as possible.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import Event, Order, PromoCode, TicketType
from eventhub.models.statuses import EventStatus, OrderStatus, PaymentStatus
from eventhub.services import audit, booking_writes, fair_share, outbox, promos
from eventhub.services.errors import (
    DomainError,
    NotFound,
    PromoInvalid,
    SalesClosed,
    ValidationFailed,
)
from eventhub.services.payments import PaymentProvider

MAX_LINES = 20
MAX_KEY_LENGTH = 200


@dataclass(frozen=True)
class LineRequest:
    ticket_type_id: int
    quantity: int


@dataclass(frozen=True)
class ReservationRequest:
    event_id: int
    lines: list[LineRequest]
    promo_code: str | None = None
    idempotency_key: str | None = None


@dataclass(frozen=True)
class BookingPolicy:
    hold_seconds: int
    max_per_tier: int
    max_pending_orders: int = 3


@dataclass(frozen=True)
class PricedLine:
    tier: TicketType
    quantity: int
    unit_price: int
    unit_discount: int


def _check_lines(request: ReservationRequest, policy: BookingPolicy) -> dict[int, int]:
    if not request.lines:
        raise ValidationFailed("choose at least one ticket", field="items")
    if len(request.lines) > MAX_LINES:
        raise ValidationFailed(f"at most {MAX_LINES} lines per order", field="items")
    per_tier: dict[int, int] = {}
    for line in request.lines:
        if line.quantity < 1:
            raise ValidationFailed("quantity must be at least 1", field="items.quantity")
        per_tier[line.ticket_type_id] = per_tier.get(line.ticket_type_id, 0) + line.quantity
    if any(q > policy.max_per_tier for q in per_tier.values()):
        raise ValidationFailed(
            f"at most {policy.max_per_tier} tickets per tier in one order", field="items.quantity"
        )
    if request.idempotency_key is not None and not (
        0 < len(request.idempotency_key) <= MAX_KEY_LENGTH
    ):
        raise ValidationFailed("idempotencyKey must be 1-200 characters", field="idempotencyKey")
    return per_tier


async def _load_sellable(
    session: AsyncSession, request: ReservationRequest, per_tier: dict[int, int], now: datetime
) -> tuple[Event, dict[int, TicketType]]:
    event = await session.get(Event, request.event_id)
    if event is None or event.status == EventStatus.DRAFT:
        raise NotFound("no such event", field="eventId")
    if event.status == EventStatus.CANCELLED:
        raise SalesClosed("this event was cancelled", field="eventId")
    if now >= (event.ends_at or event.starts_at):
        raise SalesClosed("this event is over", field="eventId")
    rows = await session.scalars(
        select(TicketType).where(TicketType.id.in_(per_tier), TicketType.event_id == event.id)  # type: ignore[union-attr,arg-type]
    )
    tiers = {t.id: t for t in rows if t.id is not None}
    if len(tiers) != len(per_tier):
        raise NotFound("a ticket type does not belong to this event", field="items.ticketTypeId")
    for tier in tiers.values():
        if (tier.sales_start_at and now < tier.sales_start_at) or (
            tier.sales_end_at and now >= tier.sales_end_at
        ):
            raise SalesClosed(f"sales for {tier.name} are closed", field="items")
    return event, tiers


async def _load_promo(
    session: AsyncSession, event_id: int, code: str | None, now: datetime
) -> PromoCode | None:
    if code is None or not code.strip():
        return None
    promo = (
        await session.scalars(
            select(PromoCode).where(
                PromoCode.event_id == event_id,  # type: ignore[arg-type]
                PromoCode.code == promos.normalize_code(code),  # type: ignore[arg-type]
            )
        )
    ).first()
    if promo is None:
        raise PromoInvalid("unknown promo code", field="promoCode")
    promos.check_window(promo, now)
    return promo


def price_lines(
    tiers: dict[int, TicketType], per_tier: dict[int, int], promo: PromoCode | None
) -> list[PricedLine]:
    """The one price calculation: the tier's price, less the promo's discount per ticket."""
    lines = [
        PricedLine(
            tier=tiers[tier_id],
            quantity=quantity,
            unit_price=tiers[tier_id].price_minor,
            unit_discount=promos.unit_discount(promo, tiers[tier_id]) if promo else 0,
        )
        for tier_id, quantity in sorted(per_tier.items())
    ]
    if promo is not None and not any(promos.applies_to(promo, line.tier) for line in lines):
        raise PromoInvalid("this promo code does not apply to these tickets", field="promoCode")
    return lines


async def find_by_idempotency_key(session: AsyncSession, buyer_id: int, key: str) -> Order | None:
    return (
        await session.scalars(
            select(Order).where(Order.buyer_id == buyer_id, Order.idempotency_key == key)  # type: ignore[arg-type]
        )
    ).first()


async def reserve(
    session: AsyncSession,
    request: ReservationRequest,
    actor: audit.Actor,
    policy: BookingPolicy,
    provider: PaymentProvider,
    *,
    now: datetime,
) -> Order:
    """Reserve seats for the actor; PAID at once when the total is zero or payment is offline.

    `now` is the request's instant: the hold expires `policy.hold_seconds` after it.
    """
    assert actor.user_id is not None
    per_tier = _check_lines(request, policy)
    if request.idempotency_key:
        existing = await find_by_idempotency_key(session, actor.user_id, request.idempotency_key)
        if existing is not None:
            return existing
    event, tiers = await _load_sellable(session, request, per_tier, now)
    promo = await _load_promo(session, event.id or 0, request.promo_code, now)
    lines = price_lines(tiers, per_tier, promo)
    paid_now = provider.pays_at_once or all(line.unit_price == line.unit_discount for line in lines)
    try:
        order = await _write_order(
            session, event, lines, promo, request, actor, policy, now, paid_now, provider.name
        )
    except IntegrityError:
        await session.rollback()
        if request.idempotency_key:
            again = await find_by_idempotency_key(session, actor.user_id, request.idempotency_key)
            if again is not None:
                return again
        raise
    except DomainError:
        await session.rollback()
        raise
    if order.status == OrderStatus.PENDING:
        from eventhub.services import orders  # the order state machine builds on booking

        return await orders.begin_payment(session, order, provider)
    return order


async def _write_order(
    session: AsyncSession,
    event: Event,
    lines: list[PricedLine],
    promo: PromoCode | None,
    request: ReservationRequest,
    actor: audit.Actor,
    policy: BookingPolicy,
    now: datetime,
    paid_now: bool,
    provider_name: str,
) -> Order:
    """One transaction: `booking_writes` inserts the order and takes the seats, then COMMIT."""
    subtotal = sum(line.unit_price * line.quantity for line in lines)
    discount = sum(line.unit_discount * line.quantity for line in lines)
    assert event.id is not None
    assert actor.user_id is not None
    values: dict[str, Any] = {
        "event_id": event.id,
        "buyer_id": actor.user_id,
        "status": OrderStatus.PAID if paid_now else OrderStatus.PENDING,
        "promo_code_id": promo.id if promo else None,
        "promo_code": promo.code if promo else None,
        "currency": event.currency,
        "subtotal_minor": subtotal,
        "discount_minor": discount,
        "total_minor": subtotal - discount,
        "expires_at": None if paid_now else now + timedelta(seconds=policy.hold_seconds),
        "idempotency_key": request.idempotency_key,
        "payment_provider": provider_name,
        "payment_status": PaymentStatus.SUCCEEDED if paid_now else PaymentStatus.REQUIRES_PAYMENT,
        "created_at": now,
        "paid_at": now if paid_now else None,
    }
    entry = audit.entry_values(
        actor,
        "order.reserve",
        target_type="Order",
        details={
            "event_id": event.id,
            "seats": sum(line.quantity for line in lines),
            "total_minor": values["total_minor"],
            "promo": values["promo_code"],
        },
    )
    draft = booking_writes.OrderDraft(
        order=values,
        items=[
            booking_writes.ItemRow(
                line.tier.id or 0, line.quantity, line.unit_price, line.unit_discount
            )
            for line in lines
        ],
        issue_tickets=paid_now,
        share=fair_share.Share(
            buyer_id=actor.user_id,
            seats=sum(line.quantity for line in lines),
            pending=not paid_now,
            max_pending=policy.max_pending_orders,
            cap=event.max_per_customer,
        ),
        audit=entry,
        now=now,
    )
    order = Order(id=await booking_writes.write_order(session, draft), **values)
    await outbox.after_booking(session, order, event)
    await session.commit()
    return order
