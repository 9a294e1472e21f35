"""Money conversion and the one discount calculation, plus when an order is paid at once."""

from __future__ import annotations

import itertools
import uuid
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.models import TicketType
from eventhub.services import audit, booking, events, money, promos, users
from eventhub.services.errors import PromoInvalid, ValidationFailed
from eventhub.services.payments import OfflineProvider
from tests.support.invariant import HoldingProvider, check_invariant

CURRENCIES = sorted(money.CURRENCY_EXPONENTS)
_tier_ids = itertools.count(1)


def tier(name: str, price_minor: int) -> TicketType:
    return TicketType(
        id=next(_tier_ids), event_id=1, name=name, price_minor=price_minor, seat_limit=10
    )


def promo(kind: str, value: str, names: list[str] | None = None, tiers: Any = ()) -> Any:
    data = promos.NewPromoCode("CODE", kind, Decimal(value), ticket_type_names=names)
    return promos.build_promo(data, "USD", list(tiers))


@given(st.sampled_from(CURRENCIES), st.integers(0, money.MAX_MINOR))
def test_minor_units_survive_the_trip_through_decimal(currency: str, minor: int) -> None:
    amount = money.from_minor(minor, currency)
    assert -amount.as_tuple().exponent == money.exponent(currency)  # type: ignore[operator]
    assert money.to_minor(amount, currency) == minor


@pytest.mark.parametrize(
    ("amount", "currency"),
    [
        ("1.001", "USD"),
        ("1.5", "JPY"),
        ("0.0001", "KWD"),
        ("-0.01", "EUR"),
        ("NaN", "USD"),
        ("Infinity", "USD"),
        ("1e13", "USD"),
    ],
)
def test_amounts_a_currency_cannot_hold_are_refused(amount: str, currency: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        money.to_minor(Decimal(amount), currency, field="price")
    assert refused.value.field == "price"


def test_currencies_are_iso_codes_we_know() -> None:
    assert money.normalize_currency(" usd ") == "USD"
    assert money.to_minor(Decimal("1.500"), "KWD") == 1500
    assert money.from_minor(1500, "JPY") == Decimal("1500")
    with pytest.raises(ValidationFailed) as refused:
        money.normalize_currency("XYZ")
    assert refused.value.field == "currency"


@given(st.integers(0, 10**9), st.integers(0, 10_000))
def test_percent_discount_rounds_half_up_and_never_exceeds_the_price(
    price: int, basis_points: int
) -> None:
    code = promo("PERCENT", str(Decimal(basis_points) / 100))
    exact = (Decimal(price) * basis_points / 10_000).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    assert promos.unit_discount(code, tier("T", price)) == int(exact)
    assert 0 <= promos.unit_discount(code, tier("T", price)) <= price


def test_fixed_discount_covers_only_its_tiers_and_not_more_than_the_price() -> None:
    free, cheap, dear = tier("Free", 0), tier("Cheap", 500), tier("Dear", 5000)
    code = promo("FIXED", "10.00", ["Dear", "Free"], [free, cheap, dear])
    assert [promos.unit_discount(code, t) for t in (free, cheap, dear)] == [0, 0, 1000]
    assert promo("PERCENT", "25", None, [cheap]).amount == 2500  # basis points
    with pytest.raises(ValidationFailed, match="fixed discount"):
        promo("FIXED", "5.01", None, [free, cheap, dear])


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (promos.NewPromoCode("no spaces!", "PERCENT", Decimal(5)), "promoCodes.code"),
        (promos.NewPromoCode("ZERO", "PERCENT", Decimal(5), max_uses=0), "promoCodes.maxUses"),
        (promos.NewPromoCode("HALF", "PERCENT", Decimal("12.345")), "promoCodes.value"),
        (promos.NewPromoCode("NEG", "FIXED", Decimal(-1)), "promoCodes.value"),
        (
            promos.NewPromoCode("WHO", "FIXED", Decimal(1), ticket_type_names=["Nope"]),
            "promoCodes.ticketTypeNames",
        ),
        (
            promos.NewPromoCode("NONE", "FIXED", Decimal(1), ticket_type_names=[]),
            "promoCodes.ticketTypeNames",
        ),
        (
            promos.NewPromoCode(
                "BACK",
                "PERCENT",
                Decimal(5),
                valid_from=datetime(2030, 1, 2, tzinfo=UTC),
                valid_until=datetime(2030, 1, 1, tzinfo=UTC),
            ),
            "promoCodes.validUntil",
        ),
    ],
)
def test_malformed_promo_codes_name_the_field(data: promos.NewPromoCode, field: str) -> None:
    with pytest.raises(ValidationFailed) as refused:
        promos.build_promo(data, "USD", [tier("Regular", 1000)])
    assert refused.value.field == field


def test_a_promo_that_covers_none_of_the_tickets_is_invalid() -> None:
    regular, vip = tier("Regular", 1000), tier("VIP", 5000)
    code = promo("PERCENT", "10", ["VIP"], [regular, vip])
    with pytest.raises(PromoInvalid):
        booking.price_lines({regular.id or 0: regular}, {regular.id or 0: 2}, code)
    lines = booking.price_lines(
        {regular.id or 0: regular, vip.id or 0: vip}, {regular.id or 0: 2, vip.id or 0: 1}, code
    )
    assert sorted((ln.tier.name, ln.unit_price, ln.unit_discount) for ln in lines) == [
        ("Regular", 1000, 0),
        ("VIP", 5000, 500),
    ]


async def published_event(session: AsyncSession) -> tuple[audit.Actor, dict[str, int]]:
    """A buyer and a published event with a free and a paid tier and a 100% code."""

    async def account(organizer: bool) -> audit.Actor:
        data = users.Registration(f"{uuid.uuid4().hex}@example.com", "x" * 12, "Someone", organizer)
        user = await users.create_user(session, data, "not-a-hash", audit.SYSTEM)
        return audit.Actor(user.id, None, frozenset({"ORGANIZER"} if organizer else {"CUSTOMER"}))

    organizer, buyer = await account(True), await account(False)
    data = events.NewEvent(
        "Free Friday",
        datetime.now(UTC) + timedelta(days=3),
        50,
        [
            events.NewTicketType("Free", Decimal(0), 20),
            events.NewTicketType("Paid", Decimal(8), 20),
        ],
        promo_codes=[promos.NewPromoCode("GIFT", "PERCENT", Decimal(100))],
    )
    event = await events.create_event(session, data, organizer)
    assert event.id is not None
    await events.publish_event(session, event.id, organizer)
    tiers = {t.name: t.id or 0 for t in await events.list_ticket_types(session, event.id)}
    return buyer, {"event": event.id, **tiers}


async def book(
    session: AsyncSession,
    buyer: audit.Actor,
    ids: dict[str, int],
    tier_name: str,
    provider: Any,
    code: str | None = None,
) -> Any:
    request = booking.ReservationRequest(
        ids["event"], [booking.LineRequest(ids[tier_name], 2)], code
    )
    policy = booking.BookingPolicy(600, 10)
    return await booking.reserve(session, request, buyer, policy, provider, now=datetime.now(UTC))


async def test_a_zero_total_is_paid_at_once_even_when_the_provider_waits(
    session: AsyncSession,
) -> None:
    buyer, ids = await published_event(session)
    waiting = HoldingProvider()
    free = await book(session, buyer, ids, "Free", waiting)
    gifted = await book(session, buyer, ids, "Paid", waiting, code="gift")
    charged = await book(session, buyer, ids, "Paid", waiting)
    assert [(o.status, o.total_minor) for o in (free, gifted, charged)] == [
        ("PAID", 0),
        ("PAID", 0),
        ("PENDING", 1600),
    ]
    assert (gifted.subtotal_minor, gifted.discount_minor) == (1600, 1600)
    assert waiting.created == [charged.id]  # the provider is asked only when money is due
    assert (await book(session, buyer, ids, "Paid", OfflineProvider())).status == "PAID"
    await check_invariant(session)
