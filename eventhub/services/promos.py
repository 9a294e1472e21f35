"""Promo codes: their validation and the one place a discount is computed."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from eventhub.models import PromoCode, TicketType
from eventhub.services import money
from eventhub.services.errors import PromoInvalid, ValidationFailed

_CODE = re.compile(r"^[A-Z0-9_-]{2,64}$")


@dataclass(frozen=True)
class NewPromoCode:
    code: str
    kind: str  # PERCENT | FIXED
    value: Decimal
    max_uses: int | None = None
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    ticket_type_names: list[str] | None = None


def normalize_code(code: str) -> str:
    return code.strip().upper()


def build_promo(
    data: NewPromoCode, currency: str, tiers: list[TicketType], field: str = "promoCodes"
) -> PromoCode:
    """Validate against the event's tiers; FIXED may not exceed the cheapest paid tier it covers."""
    code = normalize_code(data.code)
    if not _CODE.match(code):
        raise ValidationFailed(
            "code must be 2-64 letters, digits, '-' or '_'", field=f"{field}.code"
        )
    if data.max_uses is not None and data.max_uses < 1:
        raise ValidationFailed("maxUses must be at least 1", field=f"{field}.maxUses")
    if data.valid_from and data.valid_until and data.valid_until <= data.valid_from:
        raise ValidationFailed("validUntil must be after validFrom", field=f"{field}.validUntil")
    covered = _covered_tiers(data.ticket_type_names, tiers, field)
    if data.kind == "PERCENT":
        if not (Decimal(0) <= data.value <= Decimal(100)):
            raise ValidationFailed("percent must be between 0 and 100", field=f"{field}.value")
        amount = money.to_minor(data.value, "USD", field=f"{field}.value")  # basis points
    elif data.kind == "FIXED":
        amount = money.to_minor(data.value, currency, field=f"{field}.value")
        paid = [t.price_minor for t in covered if t.price_minor > 0]
        if paid and amount > min(paid):
            raise ValidationFailed(
                "a fixed discount may not exceed the price of a tier it applies to",
                field=f"{field}.value",
            )
    else:
        raise ValidationFailed("kind must be PERCENT or FIXED", field=f"{field}.kind")
    names = None if data.ticket_type_names is None else sorted({t.name for t in covered})
    # SQLModel table models do not validate on __init__; the caller sets event_id
    # once the event row exists, so it is deliberately omitted here.
    return PromoCode(  # type: ignore[call-arg]
        code=code,
        kind=data.kind,
        amount=amount,
        max_uses=data.max_uses,
        valid_from=data.valid_from,
        valid_until=data.valid_until,
        ticket_type_names=None if names is None else json.dumps(names),
    )


def _covered_tiers(
    names: list[str] | None, tiers: list[TicketType], field: str
) -> list[TicketType]:
    if names is None:
        return tiers
    by_name = {t.name: t for t in tiers}
    unknown = [n for n in names if n not in by_name]
    if unknown or not names:
        raise ValidationFailed(
            f"unknown ticket types: {', '.join(unknown) or '(none given)'}",
            field=f"{field}.ticketTypeNames",
        )
    return [by_name[n] for n in names]


def applies_to(promo: PromoCode, tier: TicketType) -> bool:
    if promo.ticket_type_names is None:
        return True
    names: list[str] = json.loads(promo.ticket_type_names)
    return tier.name in names


def check_window(promo: PromoCode, now: datetime) -> None:
    if promo.valid_from and now < promo.valid_from:
        raise PromoInvalid("this promo code is not valid yet", field="promoCode")
    if promo.valid_until and now >= promo.valid_until:
        raise PromoInvalid("this promo code has expired", field="promoCode")


def unit_discount(promo: PromoCode, tier: TicketType) -> int:
    """Minor units off one ticket of `tier`; never more than its price. Percent rounds half up."""
    if not applies_to(promo, tier):
        return 0
    if promo.kind == "PERCENT":
        off = (tier.price_minor * promo.amount + 5_000) // 10_000
    else:
        off = promo.amount
    return min(off, tier.price_minor)
