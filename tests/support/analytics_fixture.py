"""A small festival whose every analytics number was worked out by hand.

Everything is arranged through the public API (registration with birth year and
country, createEvent, reserveTickets, refundOrder, cancelOrder, validateTicket);
only the payment times are then moved, through the session, onto fixed instants
so that sales fall into known hour and day buckets.

Event "Analytics Fest", EUR, capacity 40:
  Standard 19.99 (limit 30), Premium 49.50 (limit 10), Student 7.25 (limit 20)
  SAVE15: 15 % off every tier, per ticket, half up:
    Standard 2.9985 -> 3.00 off, Premium 7.425 -> 7.43 off, Student 1.0875 -> 1.09 off
  TENOFF: 2.50 off each Standard or Premium ticket (Student not covered)

The ledger (D1 = 2026-03-01, D2 = 2026-03-02, D3 = 2026-03-03, UTC):
  order buyer items              promo   subtotal discount   total  paid at     end state
  o1    b1    2 Standard         SAVE15     39.98     6.00   33.98  D1 09:05    PAID
  o2    b1    1 Premium          -          49.50     0.00   49.50  D1 09:59:59 PAID
  o3    b2    1 Standard 2 Stud. TENOFF     34.49     2.50   31.99  D1 09:30    PAID
  o4    b3    2 Premium          SAVE15     99.00    14.86   84.14  D1 10:00    PAID
  o5    b4    3 Student          -          21.75     0.00   21.75  D1 10:45    PAID
  o6    b5    1 Standard         -          19.99     0.00   19.99  D1 23:59:59 PAID
  o7    b6    1 Standard         -          19.99     0.00   19.99  D2 00:00    PAID
  o8    b7    1 Std 1 Prem 1 St. SAVE15     76.74    11.52   65.22  D2 14:05    PAID
  o9    b8    1 Student          -           7.25     0.00    7.25  D2 14:15    PAID
  o10   b9    2 Standard         -          39.98     0.00   39.98  D2 14:50    PAID
  o11   b10   1 Premium          TENOFF     49.50     2.50   47.00  D3 08:00    PAID
  o12   b11   1 Standard         -          19.99     0.00   19.99  D3 08:20    PAID
  o13   b12   1 Student          -           7.25     0.00    7.25  D3 08:40    PAID
  o14   b2    2 Premium          -          99.00     0.00   99.00  D1 10:30    REFUNDED (organizer)
  o15   b13   1 Standard 1 Stud. SAVE15     27.24     4.09   23.15  D2 14:20    REFUNDED (buyer)

Check-ins: both tickets of o1 and the first of o4 (3 admitted); a second scan of
o1's first ticket (ALREADY_USED) and a scan of a ticket of o14 (VOID) admit nobody.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.global_ids import decode_id
from eventhub.models import Order
from tests.support.factories import create_event, reserve
from tests.support.graphql import Account, GraphQLClient

D1, D2, D3 = (datetime(2026, 3, day, tzinfo=UTC) for day in (1, 2, 3))
CAPACITY = 40
TIERS = [
    {"name": "Standard", "price": "19.99", "limit": 30},
    {"name": "Premium", "price": "49.50", "limit": 10},
    {"name": "Student", "price": "7.25", "limit": 20},
]
PROMOS = [
    {"code": "SAVE15", "kind": "PERCENT", "value": "15"},
    {
        "code": "TENOFF",
        "kind": "FIXED",
        "value": "2.50",
        "ticketTypeNames": ["Standard", "Premium"],
    },
]
# buyer: (age this year or None, country or None). b13's only order is refunded, so b13
# must not appear in any demographic group (if it did, DE would read 7 and 35-44 would read 5).
BUYERS: dict[str, tuple[int | None, str | None]] = {
    "b1": (25, "DE"),
    "b2": (34, "DE"),
    "b3": (35, "DE"),
    "b4": (44, "DE"),
    "b5": (40, "DE"),
    "b6": (24, "DE"),
    "b7": (30, "FR"),
    "b8": (29, "FR"),
    "b9": (38, "FR"),
    "b10": (27, "IT"),
    "b11": (80, "IT"),
    "b12": (None, None),
    "b13": (36, "DE"),
}


@dataclass(frozen=True)
class Sale:
    buyer: str
    items: dict[str, int]
    promo: str | None
    paid_at: datetime


def _at(day: datetime, hour: int, minute: int = 0, second: int = 0) -> datetime:
    return day.replace(hour=hour, minute=minute, second=second)


SALES: dict[str, Sale] = {
    "o1": Sale("b1", {"Standard": 2}, "SAVE15", _at(D1, 9, 5)),
    "o2": Sale("b1", {"Premium": 1}, None, _at(D1, 9, 59, 59)),
    "o3": Sale("b2", {"Standard": 1, "Student": 2}, "tenoff", _at(D1, 9, 30)),
    "o4": Sale("b3", {"Premium": 2}, "save15", _at(D1, 10)),
    "o5": Sale("b4", {"Student": 3}, None, _at(D1, 10, 45)),
    "o6": Sale("b5", {"Standard": 1}, None, _at(D1, 23, 59, 59)),
    "o7": Sale("b6", {"Standard": 1}, None, _at(D2, 0)),
    "o8": Sale("b7", {"Standard": 1, "Premium": 1, "Student": 1}, "SAVE15", _at(D2, 14, 5)),
    "o9": Sale("b8", {"Student": 1}, None, _at(D2, 14, 15)),
    "o10": Sale("b9", {"Standard": 2}, None, _at(D2, 14, 50)),
    "o11": Sale("b10", {"Premium": 1}, "TENOFF", _at(D3, 8)),
    "o12": Sale("b11", {"Standard": 1}, None, _at(D3, 8, 20)),
    "o13": Sale("b12", {"Student": 1}, None, _at(D3, 8, 40)),
    "o14": Sale("b2", {"Premium": 2}, None, _at(D1, 10, 30)),
    "o15": Sale("b13", {"Standard": 1, "Student": 1}, "SAVE15", _at(D2, 14, 20)),
}

REFUND = """mutation($id: ID!) { refundOrder(id: $id, reason: "duplicate") {
  order { status } errors { code } } }"""
CANCEL = "mutation($id: ID!) { cancelOrder(id: $id) { order { status } errors { code } } }"
ASSIGN_STAFF = """mutation($id: ID!, $email: String!) {
  assignStaff(eventId: $id, email: $email) { errors { code } } }"""
VALIDATE = """mutation($id: ID!, $token: String!) {
  validateTicket(eventId: $id, token: $token) { outcome } }"""


@dataclass
class Festival:
    organizer: Account
    staff: Account
    event: dict[str, Any]
    buyers: dict[str, Account]
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)


def birth_year(age: int | None) -> int | None:
    return None if age is None else datetime.now(UTC).year - age


async def register_buyer(client: GraphQLClient, age: int | None, country: str | None) -> Account:
    extra: dict[str, Any] = {}
    if age is not None:
        extra["birthYear"] = birth_year(age)
    if country is not None:
        extra["country"] = country
    return await client.register(**extra)


async def set_paid_at(session: AsyncSession, moves: dict[str, datetime]) -> None:
    """Move orders' payment (and creation) times, {order id: instant}, in one transaction:
    the API always stamps `now`."""
    for order_id, paid_at in moves.items():
        pk = decode_id(order_id, "Order")
        await session.execute(
            update(Order).where(Order.id == pk).values(paid_at=paid_at, created_at=paid_at)  # type: ignore[arg-type]
        )
    await session.commit()


async def mutate(
    client: GraphQLClient, query: str, account: Account, **variables: Any
) -> dict[str, Any]:
    """The payload of a one-field mutation, asserting there were no top-level errors."""
    data = await client.data(query, variables, account.token)
    payload: dict[str, Any] = next(iter(data.values()))
    return payload


async def build_festival(client: GraphQLClient, session: AsyncSession) -> Festival:
    organizer = await client.register(organizer=True)
    event = await create_event(
        client,
        organizer,
        name="Analytics Fest",
        capacity=CAPACITY,
        currency="EUR",
        ticketTypes=TIERS,
        promoCodes=PROMOS,
    )
    buyers = {key: await register_buyer(client, *profile) for key, profile in BUYERS.items()}
    festival = Festival(organizer, await client.register(), event, buyers)
    for key, sale in SALES.items():
        extra = {"promoCode": sale.promo} if sale.promo else {}
        payload = await reserve(client, buyers[sale.buyer], event, sale.items, **extra)
        assert payload["errors"] == [], (key, payload["errors"])
        assert payload["order"]["status"] == "PAID", key
        festival.orders[key] = payload["order"]

    refunded = await mutate(client, REFUND, organizer, id=festival.orders["o14"]["id"])
    cancelled = await mutate(client, CANCEL, buyers["b13"], id=festival.orders["o15"]["id"])
    assert refunded == {"order": {"status": "REFUNDED"}, "errors": []}
    assert cancelled == {"order": {"status": "REFUNDED"}, "errors": []}

    await check_in(client, festival)
    await set_paid_at(
        session, {festival.orders[k]["id"]: sale.paid_at for k, sale in SALES.items()}
    )
    return festival


async def check_in(client: GraphQLClient, festival: Festival) -> None:
    """Staff admit 3 tickets; a repeat scan and a refunded ticket admit nobody."""
    assigned = await mutate(
        client,
        ASSIGN_STAFF,
        festival.organizer,
        id=festival.event["id"],
        email=festival.staff.email,
    )
    assert assigned["errors"] == []
    tickets = {key: [t["qrToken"] for t in o["tickets"]] for key, o in festival.orders.items()}
    scans = [
        (tickets["o1"][0], "VALID"),
        (tickets["o1"][1], "VALID"),
        (tickets["o4"][0], "VALID"),
        (tickets["o1"][0], "ALREADY_USED"),
        (tickets["o14"][0], "VOID"),
    ]
    for token, expected in scans:
        seen = await mutate(client, VALIDATE, festival.staff, id=festival.event["id"], token=token)
        assert seen == {"outcome": expected}
