"""Seats: the one home of the conditional updates that make overselling impossible.

`take_seats` runs `UPDATE … SET sold = sold + n WHERE … AND sold + n <= limit`
on every tier, then the event's capacity, then the promo code's uses, in a
fixed order (tiers by id) so concurrent bookings cannot deadlock. Any update
that touches no row raises, and the caller rolls the whole transaction back.
No row is read and then written: the database decides.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import Event, PromoCode, TicketType
from eventhub.services import live
from eventhub.services.errors import PromoExhausted, SoldOut


async def take_seats(
    session: AsyncSession,
    event_id: int,
    per_tier: Mapping[int, int],
    promo_code_id: int | None,
) -> None:
    """Take seats or raise SoldOut / PromoExhausted; never partially (the caller rolls back)."""
    for tier_id in sorted(per_tier):
        quantity = per_tier[tier_id]
        taken = await session.execute(
            update(TicketType)
            .where(TicketType.id == tier_id, TicketType.sold + quantity <= TicketType.seat_limit)  # type: ignore[arg-type,operator]
            .values(sold=TicketType.sold + quantity)
            .execution_options(synchronize_session=False)
        )
        if taken.rowcount != 1:  # type: ignore[attr-defined]
            raise SoldOut("not enough tickets left in this tier", field="items")
    total = sum(per_tier.values())
    taken = await session.execute(
        update(Event)
        .where(Event.id == event_id, Event.sold + total <= Event.capacity)  # type: ignore[arg-type,operator]
        .values(sold=Event.sold + total)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != 1:  # type: ignore[attr-defined]
        raise SoldOut("the event is sold out", field="items")
    if promo_code_id is not None:
        used = await session.execute(
            update(PromoCode)
            .where(
                PromoCode.id == promo_code_id,  # type: ignore[arg-type]
                (PromoCode.max_uses.is_(None)) | (PromoCode.uses + 1 <= PromoCode.max_uses),  # type: ignore[union-attr,operator]
            )
            .values(uses=PromoCode.uses + 1)
            .execution_options(synchronize_session=False)
        )
        if used.rowcount != 1:  # type: ignore[attr-defined]
            raise PromoExhausted("this promo code has been used up", field="promoCode")
    await live.changed(session, event_id)


async def return_seats(
    session: AsyncSession,
    event_id: int,
    per_tier: Mapping[int, int],
    promo_code_id: int | None,
) -> None:
    """Give seats (and the promo use) back. Only the winner of a status change may call this."""
    for tier_id in sorted(per_tier):
        await session.execute(
            update(TicketType)
            .where(TicketType.id == tier_id)  # type: ignore[arg-type]
            .values(sold=TicketType.sold - per_tier[tier_id])
            .execution_options(synchronize_session=False)
        )
    await session.execute(
        update(Event)
        .where(Event.id == event_id)  # type: ignore[arg-type]
        .values(sold=Event.sold - sum(per_tier.values()))
        .execution_options(synchronize_session=False)
    )
    if promo_code_id is not None:
        await session.execute(
            update(PromoCode)
            .where(PromoCode.id == promo_code_id)  # type: ignore[arg-type]
            .values(uses=PromoCode.uses - 1)
            .execution_options(synchronize_session=False)
        )
    await live.changed(session, event_id)
