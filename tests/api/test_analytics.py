"""Analytics: every number checked against a ledger worked out by hand.

The ledger (an event, three tiers, two promos, 13 buyers, 15 orders, two of
them refunded, three check-ins) is written out in tests/support/analytics_fixture.py;
the expected values below are summed from that table by hand, never recomputed
with the code's own formulas.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.global_ids import decode_id, encode_id
from eventhub.models import Order, OrderItem, PromoCode, TicketType
from eventhub.services import booking, tickets
from tests.support import statements
from tests.support.analytics_fixture import (
    D1,
    D2,
    Festival,
    build_festival,
    mutate,
    register_buyer,
    set_paid_at,
)
from tests.support.factories import create_event, reserve
from tests.support.graphql import Account, GraphQLClient, make_admin, make_staff
from tests.support.statements import recorded_statements

quiet_app = statements.quiet_app  # an app whose sweeper stays quiet, for counting statements

EVENT_ANALYTICS = """query($id: ID!, $from: DateTime, $to: DateTime) {
  eventAnalytics(eventId: $id, from: $from, to: $to) {
    event { name }
    ticketsSold grossRevenue { amount currency } discounts { amount currency }
    refunds { amount currency } netRevenue { amount currency }
    capacityUtilization checkedIn
    byTicketType { ticketType { name } sold revenue { amount currency } }
    promoCodeUses { label count }
  } }"""
OVER_TIME = """query($id: ID!, $from: DateTime, $to: DateTime) {
  eventAnalytics(eventId: $id, from: $from, to: $to) {
    day: salesOverTime { start ticketsSold revenue { amount currency } }
    days: salesOverTime(bucket: "day") { start ticketsSold revenue { amount currency } }
    hours: salesOverTime(bucket: "hour") { start ticketsSold revenue { amount currency } }
  } }"""
DEMOGRAPHICS = """query($id: ID!) { eventAnalytics(eventId: $id) {
  ageBands { label count } countries { label count } } }"""
EVERYTHING = """query($id: ID!) { eventAnalytics(eventId: $id) {
  ticketsSold grossRevenue { amount } discounts { amount } refunds { amount }
  netRevenue { amount } capacityUtilization checkedIn
  byTicketType { ticketType { name } sold revenue { amount } }
  days: salesOverTime(bucket: "day") { start ticketsSold revenue { amount } }
  hours: salesOverTime(bucket: "hour") { start ticketsSold revenue { amount } }
  ageBands { label count } countries { label count } promoCodeUses { label count } } }"""
ORGANIZER_ANALYTICS = """query($from: DateTime, $to: DateTime) {
  organizerAnalytics(from: $from, to: $to) {
    events orders ticketsSold netRevenue { amount currency } } }"""
PLATFORM_ANALYTICS = """query($from: DateTime, $to: DateTime) {
  platformAnalytics(from: $from, to: $to) {
    totals { events orders ticketsSold netRevenue { amount currency } }
    usersByRole { label count }
    topEvents { event { name } ticketsSold } } }"""
DEACTIVATE = "mutation($id: ID!) { deactivateUser(userId: $id) { errors { code } } }"


def eur(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "EUR"}


def usd(amount: str) -> dict[str, str]:
    return {"amount": amount, "currency": "USD"}


def error_codes(body: dict[str, Any]) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors") or []]


def buckets(rows: list[dict[str, Any]]) -> list[tuple[datetime, int, dict[str, str]]]:
    """(start as an instant, tickets, revenue): compares instants, not string formats."""
    return [
        (datetime.fromisoformat(row["start"]), row["ticketsSold"], row["revenue"]) for row in rows
    ]


async def analytics_of(
    client: GraphQLClient, query: str, event: dict[str, Any], viewer: Account, **window: str
) -> dict[str, Any]:
    variables = {"id": event["id"], **window}
    result: dict[str, Any] = (await client.data(query, variables, viewer.token))["eventAnalytics"]
    return result


@pytest.fixture
async def festival(client: GraphQLClient, session: AsyncSession) -> Festival:
    return await build_festival(client, session)


# ---------------------------------------------------------------- eventAnalytics numbers


async def test_event_analytics_add_up_to_the_hand_computed_ledger(
    app: Any, client: GraphQLClient, festival: Festival
) -> None:
    seen = await analytics_of(client, EVENT_ANALYTICS, festival.event, festival.organizer)
    assert seen == {
        "event": {"name": "Analytics Fest"},
        # seats of PAID orders: o1 2 + o2 1 + o3 3 + o4 2 + o5 3 + o6..o7 1+1 + o8 3
        # + o9 1 + o10 2 + o11..o13 1+1+1; the 4 tickets of refunded o14/o15 are void
        "ticketsSold": 22,
        # every order that was paid, refunded ones included: 448.03 + 99.00 + 23.15
        "grossRevenue": eur("570.18"),
        # o1 6.00 + o3 2.50 + o4 14.86 + o8 11.52 + o11 2.50 + o15 4.09 (o15 is in gross)
        "discounts": eur("41.47"),
        "refunds": eur("122.15"),  # o14 99.00 + o15 23.15
        "netRevenue": eur("448.03"),  # 570.18 - 122.15
        "capacityUtilization": 0.55,  # 22 seats taken of 40
        "checkedIn": 3,  # o1's two tickets and one of o4's; repeat and void scans admit nobody
        "byTicketType": [
            # 2x16.99 + 17.49 + 19.99 + 19.99 + 16.99 + 2x19.99 + 19.99
            {"ticketType": {"name": "Standard"}, "sold": 9, "revenue": eur("168.41")},
            # 49.50 + 2x42.07 + 42.07 + 47.00
            {"ticketType": {"name": "Premium"}, "sold": 5, "revenue": eur("222.71")},
            # 2x7.25 + 3x7.25 + 6.16 + 7.25 + 7.25
            {"ticketType": {"name": "Student"}, "sold": 8, "revenue": eur("56.91")},
        ],
        # orders, not tickets; o15's SAVE15 use was given back by its refund
        "promoCodeUses": [{"label": "SAVE15", "count": 3}, {"label": "TENOFF", "count": 2}],
    }
    admin = await make_admin(app, client)
    assert await analytics_of(client, EVENT_ANALYTICS, festival.event, admin) == seen


async def test_sales_over_time_puts_paid_orders_into_utc_hour_and_day_buckets(
    client: GraphQLClient, festival: Festival
) -> None:
    seen = await analytics_of(client, OVER_TIME, festival.event, festival.organizer)
    at = datetime.fromisoformat
    days = [
        (at("2026-03-01T00:00:00+00:00"), 12, eur("241.35")),  # o1..o6
        (at("2026-03-02T00:00:00+00:00"), 7, eur("132.44")),  # o7..o10 (o15 refunded)
        (at("2026-03-03T00:00:00+00:00"), 3, eur("74.24")),  # o11..o13
    ]
    assert buckets(seen["days"]) == days
    assert buckets(seen["day"]) == days  # "day" is the default
    assert buckets(seen["hours"]) == [
        (at("2026-03-01T09:00:00+00:00"), 6, eur("115.47")),  # o1, o3, o2 at 09:59:59
        (at("2026-03-01T10:00:00+00:00"), 5, eur("105.89")),  # o4 at 10:00:00 sharp, o5
        (at("2026-03-01T23:00:00+00:00"), 1, eur("19.99")),  # o6 at 23:59:59
        (at("2026-03-02T00:00:00+00:00"), 1, eur("19.99")),  # o7 at midnight
        (at("2026-03-02T14:00:00+00:00"), 6, eur("112.45")),  # o8, o9, o10
        (at("2026-03-03T08:00:00+00:00"), 3, eur("74.24")),  # o11, o12, o13
    ]


async def test_demographics_show_groups_of_five_or_more_and_merge_the_rest_into_other(
    client: GraphQLClient, festival: Festival
) -> None:
    seen = await analytics_of(client, DEMOGRAPHICS, festival.event, festival.organizer)
    # 12 distinct buyers with a PAID order (b1 twice counts once; b13 was refunded).
    # Countries: DE b1..b6 = 6 shown; FR 3, IT 2 and one unknown merge: other 6.
    assert seen["countries"] == [{"label": "DE", "count": 6}, {"label": "other", "count": 6}]
    # Ages: 25-34 (25, 34, 30, 29, 27) = exactly 5, shown; 35-44 (35, 44, 40, 38) = 4,
    # 18-24 (24) = 1, 65+ (80) = 1 and one unknown merge: other 7.
    assert seen["ageBands"] == [{"label": "25-34", "count": 5}, {"label": "other", "count": 7}]


async def test_a_from_to_window_counts_only_orders_paid_inside_it(
    client: GraphQLClient, festival: Festival
) -> None:
    # [D1 10:00 UTC, D2 14:00 UTC), the start given with another offset: o4, o5, o6, o7
    # paid, o14 paid then refunded; o2 (09:59:59) and o8 (14:05) fall outside.
    window = {"from": "2026-03-01T11:00:00+01:00", "to": "2026-03-02T14:00:00+00:00"}
    seen = await analytics_of(client, EVENT_ANALYTICS, festival.event, festival.organizer, **window)
    seen.pop("promoCodeUses")  # see test_promo_code_uses_respect_the_window
    assert seen == {
        "event": {"name": "Analytics Fest"},
        "ticketsSold": 7,  # o4 2 + o5 3 + o6 1 + o7 1
        "grossRevenue": eur("244.87"),  # 84.14 + 21.75 + 19.99 + 19.99 + o14 99.00
        "discounts": eur("14.86"),  # o4
        "refunds": eur("99.00"),  # o14
        "netRevenue": eur("145.87"),
        "capacityUtilization": 0.55,  # seats taken now: not a windowed number
        "checkedIn": 1,  # o4's ticket; o1's two were paid before the window
        "byTicketType": [
            {"ticketType": {"name": "Standard"}, "sold": 2, "revenue": eur("39.98")},
            {"ticketType": {"name": "Premium"}, "sold": 2, "revenue": eur("84.14")},
            {"ticketType": {"name": "Student"}, "sold": 3, "revenue": eur("21.75")},
        ],
    }
    over_time = await analytics_of(client, OVER_TIME, festival.event, festival.organizer, **window)
    assert buckets(over_time["days"]) == [
        (D1, 6, eur("125.88")),  # o4 84.14 + o5 21.75 + o6 19.99
        (D2, 1, eur("19.99")),  # o7
    ]


async def test_promo_code_uses_respect_the_window(
    client: GraphQLClient, festival: Festival
) -> None:
    window = {"from": "2026-03-01T10:00:00+00:00", "to": "2026-03-02T14:00:00+00:00"}
    seen = await analytics_of(client, EVENT_ANALYTICS, festival.event, festival.organizer, **window)
    assert seen["promoCodeUses"] == [{"label": "SAVE15", "count": 1}]  # o4 only


async def test_an_event_without_sales_reports_zeros(client: GraphQLClient) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, currency="EUR", capacity=10)
    everything = await analytics_of(client, EVERYTHING, event, organizer)
    assert everything == {
        "ticketsSold": 0,
        "grossRevenue": {"amount": "0.00"},
        "discounts": {"amount": "0.00"},
        "refunds": {"amount": "0.00"},
        "netRevenue": {"amount": "0.00"},
        "capacityUtilization": 0.0,
        "checkedIn": 0,
        "byTicketType": [
            {"ticketType": {"name": name}, "sold": 0, "revenue": {"amount": "0.00"}}
            for name in ("Early Bird", "Regular", "VIP")
        ],
        "days": [],
        "hours": [],
        "ageBands": [],
        "countries": [],
        "promoCodeUses": [],
    }


@pytest.mark.parametrize("bucket", ["week", "minute", ""])
async def test_a_bucket_other_than_hour_or_day_is_bad_user_input(
    client: GraphQLClient, bucket: str
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer)
    query = """query($id: ID!, $b: String!) {
      eventAnalytics(eventId: $id) { salesOverTime(bucket: $b) { start } } }"""
    body = await client.execute(query, {"id": event["id"], "b": bucket}, organizer.token)
    assert (error_codes(body), body["data"]) == (["BAD_USER_INPUT"], None)


# ---------------------------------------------------------------- k-anonymity


async def test_no_demographic_group_smaller_than_five_is_released(
    client: GraphQLClient,
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, currency="EUR")
    profiles = [(30, "DE")] * 5 + [(61, "FR")]  # one buyer differs in both attributes
    for age, country in profiles:
        buyer = await register_buyer(client, age, country)
        assert (await reserve(client, buyer, event, {"Regular": 1}))["errors"] == []
    seen = await analytics_of(client, DEMOGRAPHICS, event, organizer)
    released = seen["countries"] + seen["ageBands"]
    assert released
    assert all(group["count"] >= 5 for group in released), released


# ---------------------------------------------------------------- who may see analytics


async def test_only_the_events_organizer_and_admins_see_its_analytics(
    app: Any, client: GraphQLClient
) -> None:
    organizer, rival = await client.register(organizer=True), await client.register(organizer=True)
    customer = await client.register()
    event = await create_event(client, organizer)
    admin = await make_admin(app, client)
    staff = await make_staff(app, client, admin)
    query = "query($id: ID!) { eventAnalytics(eventId: $id) { ticketsSold } }"

    async def attempt(event_id: str, token: str | None) -> dict[str, Any]:
        return await client.execute(query, {"id": event_id}, token)

    for viewer in (organizer, admin):
        assert (await attempt(event["id"], viewer.token))["data"] == {
            "eventAnalytics": {"ticketsSold": 0}
        }
    anonymous = await attempt(event["id"], None)
    assert (error_codes(anonymous), anonymous["data"]) == (["UNAUTHENTICATED"], None)
    for outsider in (customer, staff):
        refused = await attempt(event["id"], outsider.token)
        assert (error_codes(refused), refused["data"]) == (["FORBIDDEN"], None)

    # another organizer learns nothing, not even that the event exists
    theirs = await attempt(event["id"], rival.token)
    unknown = await attempt(encode_id("Event", 987654), rival.token)
    assert (error_codes(theirs), theirs["data"]) == (["FORBIDDEN"], None)
    assert theirs["errors"][0]["message"] == unknown["errors"][0]["message"]
    assert error_codes(unknown) == ["FORBIDDEN"]


# ---------------------------------------------------------------- across events


async def sell_show(
    client: GraphQLClient,
    session: AsyncSession,
    organizer: Account,
    name: str,
    currency: str,
    sales: list[tuple[Account, int, datetime]],
) -> dict[str, Any]:
    """An event with one 12.50 (USD) or 30.00 (EUR) tier, and `sales` of (buyer, seats, paid at)."""
    price = {"USD": "12.50", "EUR": "30.00"}[currency]
    tiers = [{"name": "Seat", "price": price, "limit": 50}]
    event = await create_event(
        client, organizer, name=name, currency=currency, ticketTypes=tiers, promoCodes=[]
    )
    for buyer, seats, paid_at in sales:
        payload = await reserve(client, buyer, event, {"Seat": seats})
        assert payload["errors"] == []
        await set_paid_at(session, {payload["order"]["id"]: paid_at})
    return event


@pytest.fixture
async def three_shows(
    client: GraphQLClient, session: AsyncSession, festival: Festival
) -> tuple[Festival, Account]:
    """The festival (EUR, March), a USD show of the same organizer sold in May (2 + 1 seats,
    37.50) and an EUR show of a rival organizer sold on D2 (4 + 3 seats, 210.00)."""
    may = datetime(2026, 5, 10, 12, tzinfo=UTC)
    b1, b3, b7 = (festival.buyers[key] for key in ("b1", "b3", "b7"))
    await sell_show(
        client,
        session,
        festival.organizer,
        "Side Show",
        "USD",
        [(b1, 2, may), (b3, 1, may + timedelta(days=1))],
    )
    rival = await client.register(organizer=True)
    await sell_show(client, session, rival, "Rival Night", "EUR", [(b1, 4, D2), (b7, 3, D2)])
    return festival, rival


async def totals_for(client: GraphQLClient, viewer: Account, **window: str) -> dict[str, Any]:
    result: dict[str, Any] = (await client.data(ORGANIZER_ANALYTICS, window, viewer.token))[
        "organizerAnalytics"
    ]
    return result


async def test_organizer_analytics_sum_their_events_paid_within_the_date_range(
    client: GraphQLClient, three_shows: tuple[Festival, Account]
) -> None:
    festival, rival = three_shows
    organizer = festival.organizer
    assert await totals_for(client, organizer) == {
        "events": 2,
        "orders": 17,  # the festival's 13 paid + 2 refunded, the side show's 2
        "ticketsSold": 25,  # 22 + 3
        "netRevenue": [eur("448.03"), usd("37.50")],  # currencies never add up
    }
    march = {"from": "2026-03-01T00:00:00+00:00", "to": "2026-04-01T00:00:00+00:00"}
    assert await totals_for(client, organizer, **march) == {
        "events": 1,
        "orders": 15,
        "ticketsSold": 22,
        "netRevenue": [eur("448.03")],
    }
    may = {"from": "2026-05-01T00:00:00+00:00", "to": "2026-05-11T12:00:00+00:00"}
    assert await totals_for(client, organizer, **may) == {
        "events": 1,
        "orders": 1,  # the second side-show order was paid at the (exclusive) end
        "ticketsSold": 2,
        "netRevenue": [usd("25.00")],
    }
    hours = {"from": "2026-03-01T10:00:00+00:00", "to": "2026-03-02T14:00:00+00:00"}
    assert await totals_for(client, organizer, **hours) == {
        "events": 1,
        "orders": 5,  # o4, o5, o6, o7 and the refunded o14
        "ticketsSold": 7,
        "netRevenue": [eur("145.87")],
    }
    assert await totals_for(client, rival) == {
        "events": 1,
        "orders": 2,
        "ticketsSold": 7,
        "netRevenue": [eur("210.00")],
    }
    newcomer = await client.register(organizer=True)
    assert await totals_for(client, newcomer) == {
        "events": 0,
        "orders": 0,
        "ticketsSold": 0,
        "netRevenue": [],
    }


async def test_platform_analytics_cover_every_organizer_for_admins_only(
    app: Any, client: GraphQLClient, three_shows: tuple[Festival, Account]
) -> None:
    festival, rival = three_shows
    admin = await make_admin(app, client)
    leaver = await client.register()
    assert (await mutate(client, DEACTIVATE, admin, id=leaver.id))["errors"] == []

    seen = (await client.data(PLATFORM_ANALYTICS, {}, admin.token))["platformAnalytics"]
    assert seen == {
        "totals": {
            "events": 3,
            "orders": 19,  # 15 + 2 + 2
            "ticketsSold": 32,  # 22 + 3 + 7
            "netRevenue": [eur("658.03"), usd("37.50")],  # 448.03 + 210.00
        },
        # active accounts: 2 organizers, the staff member, 13 buyers and the admin are
        # customers too; the deactivated customer is not counted
        "usersByRole": [
            {"label": "CUSTOMER", "count": 17},
            {"label": "ORGANIZER", "count": 2},
            {"label": "STAFF", "count": 1},
            {"label": "ADMIN", "count": 1},
        ],
        "topEvents": [
            {"event": {"name": "Analytics Fest"}, "ticketsSold": 22},
            {"event": {"name": "Rival Night"}, "ticketsSold": 7},
            {"event": {"name": "Side Show"}, "ticketsSold": 3},
        ],
    }
    may = {"from": "2026-05-01T00:00:00+00:00", "to": "2026-06-01T00:00:00+00:00"}
    windowed = (await client.data(PLATFORM_ANALYTICS, may, admin.token))["platformAnalytics"]
    assert windowed["totals"] == {
        "events": 1,
        "orders": 2,
        "ticketsSold": 3,
        "netRevenue": [usd("37.50")],
    }

    for outsider in (festival.organizer, rival, festival.buyers["b1"]):
        refused = await client.execute(PLATFORM_ANALYTICS, {}, outsider.token)
        assert (error_codes(refused), refused["data"]) == (["FORBIDDEN"], None)
    anonymous = await client.execute(PLATFORM_ANALYTICS, {})
    assert error_codes(anonymous) == ["UNAUTHENTICATED"]
    for outsider in (admin, festival.buyers["b1"]):  # organizerAnalytics: organizers only
        refused = await client.execute(ORGANIZER_ANALYTICS, {}, outsider.token)
        assert (error_codes(refused), refused["data"]) == (["FORBIDDEN"], None)


# ---------------------------------------------------------------- SQL aggregates


@dataclass(frozen=True)
class BulkSale:
    buyer_id: int
    items: dict[str, int]
    promo_code: str | None
    paid_at: datetime


async def insert_paid_orders(
    session: AsyncSession, event: dict[str, Any], sales: list[BulkSale]
) -> None:
    """PAID orders with their items and tickets, priced by the booking service's own price
    calculation, in two flushes (bulk data without a request and a commit per order)."""
    event_pk = decode_id(event["id"], "Event") or 0
    tiers = list(await session.scalars(select(TicketType).where(TicketType.event_id == event_pk)))  # type: ignore[arg-type]
    promos = {
        p.code: p
        for p in await session.scalars(select(PromoCode).where(PromoCode.event_id == event_pk))  # type: ignore[arg-type]
    }
    priced = []
    for sale in sales:
        per_tier = {t.id or 0: sale.items[t.name] for t in tiers if t.name in sale.items}
        promo = promos[sale.promo_code] if sale.promo_code else None
        lines = booking.price_lines({t.id or 0: t for t in tiers}, per_tier, promo)
        subtotal = sum(line.unit_price * line.quantity for line in lines)
        discount = sum(line.unit_discount * line.quantity for line in lines)
        order = Order(
            event_id=event_pk,
            buyer_id=sale.buyer_id,
            status="PAID",
            promo_code_id=promo.id if promo else None,
            promo_code=promo.code if promo else None,
            currency=event["currency"],
            subtotal_minor=subtotal,
            discount_minor=discount,
            total_minor=subtotal - discount,
            created_at=sale.paid_at,
            paid_at=sale.paid_at,
            payment_status="succeeded",
        )
        priced.append((order, lines))
    session.add_all([order for order, _ in priced])
    await session.flush()
    for order, lines in priced:
        rows = [
            OrderItem(
                order_id=order.id or 0,
                ticket_type_id=line.tier.id or 0,
                quantity=line.quantity,
                unit_price_minor=line.unit_price,
                unit_discount_minor=line.unit_discount,
            )
            for line in lines
        ]
        session.add_all(rows)
        tickets.issue_tickets(session, order.id or 0, event_pk, rows)
    await session.commit()


async def test_event_analytics_are_sql_aggregates_not_python_loops(
    quiet_app: tuple[Any, GraphQLClient],
) -> None:
    """10 orders or 200 orders over many buyers, countries, tiers, promos, hours and days:
    the same statements."""
    app, client = quiet_app
    organizer = await client.register(organizer=True)
    tiers = [
        {"name": "A", "price": "12.34", "limit": 2000},
        {"name": "B", "price": "56.78", "limit": 2000},
    ]
    promos = [{"code": "HALF", "kind": "PERCENT", "value": "50"}]
    event = await create_event(
        client, organizer, capacity=4000, ticketTypes=tiers, promoCodes=promos
    )
    countries = ["DE", "FR", "IT", "ES"]
    buyers = [await register_buyer(client, 18 + 3 * n, countries[n % 4]) for n in range(20)]
    start = datetime(2026, 3, 1, tzinfo=UTC)

    async def sell(first: int, last: int) -> list[BulkSale]:
        """Orders first..last-1: the n-th paid 5n hours after the start."""
        sales = [
            BulkSale(
                decode_id(buyers[n % len(buyers)].id, "User") or 0,
                {"A": 1 + n % 3, "B": 1} if n % 2 else {"B": 2},
                "HALF" if n % 3 == 0 else None,
                start + timedelta(hours=5 * n),
            )
            for n in range(first, last)
        ]
        async with app.state.eventhub.session_factory() as session:
            await insert_paid_orders(session, event, sales)
        return sales

    async def statements() -> tuple[list[str], dict[str, Any]]:
        with recorded_statements(app) as recorded:
            seen = await analytics_of(client, EVERYTHING, event, organizer)
        return recorded, seen

    first = await sell(0, 10)
    ten, small = await statements()
    rest = await sell(10, 200)
    two_hundred, large = await statements()
    seats = sum(sum(sale.items.values()) for sale in first + rest)

    assert (small["ticketsSold"], len(small["hours"]), len(small["days"])) == (24, 10, 2)
    assert (large["ticketsSold"], len(large["hours"]), len(large["days"])) == (seats, 200, 42)
    assert small["countries"] == [{"label": "other", "count": 10}]  # 3 + 3 + 2 + 2 buyers
    assert len(large["countries"]) == 4  # 5 buyers each
    assert len(two_hundred) == len(ten), two_hundred
