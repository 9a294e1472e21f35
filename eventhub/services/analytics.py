"""What is selling and to whom, read from the maintained figures of models/sales.py.

Whole-history reads and windows on whole UTC hours sum the maintained rows (per
event, per hour, per tier, per promo code, per buyer group), never the orders;
a window with minutes or seconds in it falls back to aggregating the orders
(`_scanned_*`), the one case that grows with the event's sales.

Money: gross = totals of orders that were paid (PAID or later REFUNDED),
refunds = totals of REFUNDED orders, net = gross - refunds, discounts =
discounts of paid orders. Tickets sold = seats of PAID orders.
Demographics count distinct buyers; any group under K_ANONYMITY people is
merged into "other" so no individual can be singled out.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Table, and_, case, distinct, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from eventhub.models import Event, Order, OrderItem, Ticket
from eventhub.models.sales import (
    EVENT_BUYER_GROUPS,
    EVENT_SALES,
    PROMO_SALES_HOURS,
    ROLE_COUNTS,
    SALES_HOURS,
    TIER_SALES,
    TIER_SALES_HOURS,
)
from eventhub.models.statuses import PAID_ONCE, OrderStatus, TicketStatus

K_ANONYMITY = 5
AGE_BANDS = (
    (0, 17, "<18"),
    (18, 24, "18-24"),
    (25, 34, "25-34"),
    (35, 44, "35-44"),
    (45, 54, "45-54"),
    (55, 64, "55-64"),
    (65, 200, "65+"),
)


@dataclass(frozen=True)
class Totals:
    tickets_sold: int
    gross_minor: int
    discounts_minor: int
    refunds_minor: int
    checked_in: int

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.refunds_minor


@dataclass(frozen=True)
class TierSales:
    ticket_type_id: int
    sold: int
    revenue_minor: int


@dataclass(frozen=True)
class Bucket:
    start: datetime
    tickets: int
    revenue_minor: int


def _window(
    event_id: int, start: datetime | None, end: datetime | None
) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [col(Order.event_id) == event_id]
    if start is not None:
        conditions.append(col(Order.paid_at) >= start)
    if end is not None:
        conditions.append(col(Order.paid_at) < end)
    return conditions


async def _scanned_totals(
    session: AsyncSession, event_id: int, start: datetime | None = None, end: datetime | None = None
) -> Totals:
    window = _window(event_id, start, end)
    paid_once = col(Order.status).in_(PAID_ONCE)
    total, discount = col(Order.total_minor), col(Order.discount_minor)
    refunded = col(Order.status) == OrderStatus.REFUNDED
    money = (
        await session.execute(
            select(
                func.coalesce(func.sum(case((paid_once, total), else_=0)), 0),
                func.coalesce(func.sum(case((paid_once, discount), else_=0)), 0),
                func.coalesce(func.sum(case((refunded, total), else_=0)), 0),
            ).where(*window)
        )
    ).one()
    seats = (
        await session.execute(
            select(
                func.count(col(Ticket.id)).filter(col(Ticket.status) != TicketStatus.VOID),
                func.count(col(Ticket.id)).filter(col(Ticket.status) == TicketStatus.USED),
            )
            .join(Order, col(Order.id) == col(Ticket.order_id))
            .where(*window)
        )
    ).one()
    return Totals(int(seats[0]), int(money[0]), int(money[1]), int(money[2]), int(seats[1]))


async def _scanned_by_ticket_type(
    session: AsyncSession, event_id: int, start: datetime | None = None, end: datetime | None = None
) -> list[TierSales]:
    rows = await session.execute(
        select(
            col(OrderItem.ticket_type_id),
            func.sum(col(OrderItem.quantity)),
            func.sum(
                (col(OrderItem.unit_price_minor) - col(OrderItem.unit_discount_minor))
                * col(OrderItem.quantity)
            ),
        )
        .join(Order, col(Order.id) == col(OrderItem.order_id))
        .where(*_window(event_id, start, end), col(Order.status) == OrderStatus.PAID)
        .group_by(col(OrderItem.ticket_type_id))
    )
    return [TierSales(int(r[0]), int(r[1] or 0), int(r[2] or 0)) for r in rows]


def _bucket_expr(session: AsyncSession, bucket: str) -> Any:
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    if dialect == "postgresql":
        return func.date_trunc(bucket, func.timezone("UTC", col(Order.paid_at)))
    return func.strftime(
        "%Y-%m-%d %H:00:00" if bucket == "hour" else "%Y-%m-%d 00:00:00", col(Order.paid_at)
    )


async def _scanned_sales_over_time(
    session: AsyncSession,
    event_id: int,
    bucket: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Bucket]:
    """Tickets and revenue of PAID orders per hour or day (UTC)."""
    expr = _bucket_expr(session, bucket).label("bucket")
    seats = (
        select(col(OrderItem.order_id), func.sum(col(OrderItem.quantity)).label("seats"))
        .group_by(col(OrderItem.order_id))
        .subquery()
    )
    rows = await session.execute(
        select(expr, func.sum(seats.c.seats), func.sum(col(Order.total_minor)))
        .join(seats, seats.c.order_id == col(Order.id))
        .where(*_window(event_id, start, end), col(Order.status) == OrderStatus.PAID)
        .group_by(expr)
        .order_by(expr)
    )
    return [Bucket(_as_utc(r[0]), int(r[1] or 0), int(r[2] or 0)) for r in rows]


def _as_utc(value: Any) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    assert isinstance(value, datetime)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def merge_small_groups(counts: dict[str, int]) -> list[tuple[str, int]]:
    """Groups under K_ANONYMITY people fold into "other", so nobody can be singled out.

    "other" is a group too: while it is non-empty but under K_ANONYMITY, the
    smallest shown group joins it (DE 5, FR 1 becomes other 6, not DE 5 + other 1,
    which would tell everyone what the one FR buyer is not).
    """
    kept = sorted(
        ((label, n) for label, n in counts.items() if n >= K_ANONYMITY),
        key=lambda pair: (-pair[1], pair[0]),
    )
    other = sum(n for n in counts.values() if n < K_ANONYMITY)
    while 0 < other < K_ANONYMITY and kept:
        other += kept.pop()[1]
    return [*kept, ("other", other)] if other else kept


async def _scanned_promo_code_uses(
    session: AsyncSession, event_id: int, start: datetime | None = None, end: datetime | None = None
) -> list[tuple[str, int]]:
    """Orders per promo code among orders paid in the window (codes are not personal data)."""
    rows = await session.execute(
        select(col(Order.promo_code), func.count(col(Order.id)))
        .where(
            *_window(event_id, start, end),
            col(Order.status) == OrderStatus.PAID,
            col(Order.promo_code).is_not(None),
        )
        .group_by(col(Order.promo_code))
        .order_by(func.count(col(Order.id)).desc(), col(Order.promo_code))
    )
    return [(str(r[0]), int(r[1])) for r in rows]


@dataclass(frozen=True)
class OrganizerTotals:
    events: int
    orders: int
    tickets_sold: int
    gross_minor: int
    refunds_minor: int
    currency_totals: dict[
        str, int
    ]  # net revenue per currency: amounts in different currencies never add up


async def _scanned_organizer_totals(
    session: AsyncSession, organizer_id: int | None, start: datetime | None, end: datetime | None
) -> OrganizerTotals:
    """Across one organizer's events (None: the whole platform), orders paid in [start, end)."""
    conditions: list[ColumnElement[bool]] = [col(Order.status).in_(PAID_ONCE)]
    if organizer_id is not None:
        conditions.append(col(Event.organizer_id) == organizer_id)
    if start is not None:
        conditions.append(col(Order.paid_at) >= start)
    if end is not None:
        conditions.append(col(Order.paid_at) < end)
    joined = (
        select(Order)
        .join(Event, col(Event.id) == col(Order.event_id))
        .where(*conditions)
        .subquery()
    )
    refunded = case((joined.c.status == OrderStatus.REFUNDED, joined.c.total_minor), else_=0)
    row = (
        await session.execute(
            select(
                func.count(distinct(joined.c.event_id)),
                func.count(joined.c.id),
                func.coalesce(func.sum(joined.c.total_minor), 0),
                func.coalesce(func.sum(refunded), 0),
            )
        )
    ).one()
    per_currency = await session.execute(
        select(joined.c.currency, func.sum(joined.c.total_minor - refunded)).group_by(
            joined.c.currency
        )
    )
    seats = await session.scalar(
        select(func.count(col(Ticket.id))).where(
            col(Ticket.status) != TicketStatus.VOID, col(Ticket.order_id).in_(select(joined.c.id))
        )
    )
    return OrganizerTotals(
        int(row[0]),
        int(row[1]),
        int(seats or 0),
        int(row[2]),
        int(row[3]),
        {str(c): int(n or 0) for c, n in per_currency},
    )


# --- from the maintained figures -----------------------------------------------------------


def _on_the_hour(moment: datetime | None) -> bool:
    return moment is None or (moment.minute, moment.second, moment.microsecond) == (0, 0, 0)


def _maintained(start: datetime | None, end: datetime | None) -> bool:
    """Whether the window is whole hours, which the hourly figures can answer exactly."""
    return _on_the_hour(start) and _on_the_hour(end)


def _hours(table: Table, start: datetime | None, end: datetime | None) -> list[Any]:
    conditions = []
    if start is not None:
        conditions.append(table.c.hour >= start)
    if end is not None:
        conditions.append(table.c.hour < end)
    return conditions


def _sum(column: Any) -> Any:
    return func.coalesce(func.sum(column), 0)


async def totals(
    session: AsyncSession, event_id: int, start: datetime | None = None, end: datetime | None = None
) -> Totals:
    if not _maintained(start, end):
        return await _scanned_totals(session, event_id, start, end)
    table = EVENT_SALES if start is None and end is None else SALES_HOURS
    c = table.c
    row = (
        await session.execute(
            select(_sum(c.tickets), _sum(c.gross), _sum(c.discounts), _sum(c.refunds))
            .add_columns(_sum(c.checked_in))
            .where(
                c.event_id == event_id, *([] if table is EVENT_SALES else _hours(table, start, end))
            )
        )
    ).one()
    return Totals(*(int(v) for v in row))


async def by_ticket_type(
    session: AsyncSession, event_id: int, start: datetime | None = None, end: datetime | None = None
) -> list[TierSales]:
    if not _maintained(start, end):
        return await _scanned_by_ticket_type(session, event_id, start, end)
    table = TIER_SALES if start is None and end is None else TIER_SALES_HOURS
    c = table.c
    rows = await session.execute(
        select(c.ticket_type_id, _sum(c.seats), _sum(c.revenue))
        .where(c.event_id == event_id, *([] if table is TIER_SALES else _hours(table, start, end)))
        .group_by(c.ticket_type_id)
    )
    return [TierSales(int(r[0]), int(r[1]), int(r[2])) for r in rows if r[1] or r[2]]


def _hour_bucket(session: AsyncSession, bucket: str) -> Any:
    hour = SALES_HOURS.c.hour
    if bucket == "hour":
        return hour
    if _dialect(session) == "postgresql":
        return func.date_trunc("day", hour, "UTC")
    return func.strftime("%Y-%m-%d 00:00:00", hour)


def _dialect(session: AsyncSession) -> str:
    return session.bind.dialect.name if session.bind is not None else "sqlite"


async def sales_over_time(
    session: AsyncSession,
    event_id: int,
    bucket: str,
    start: datetime | None = None,
    end: datetime | None = None,
) -> list[Bucket]:
    """Tickets and revenue of PAID orders per hour or day (UTC)."""
    if not _maintained(start, end):
        return await _scanned_sales_over_time(session, event_id, bucket, start, end)
    c = SALES_HOURS.c
    expr = _hour_bucket(session, bucket).label("bucket")
    rows = await session.execute(
        select(expr, func.sum(c.seats), func.sum(c.paid_total))
        .where(c.event_id == event_id, c.paid_orders > 0, *_hours(SALES_HOURS, start, end))
        .group_by(expr)
        .order_by(expr)
    )
    return [Bucket(_as_utc(r[0]), int(r[1] or 0), int(r[2] or 0)) for r in rows]


async def promo_code_uses(
    session: AsyncSession, event_id: int, start: datetime | None = None, end: datetime | None = None
) -> list[tuple[str, int]]:
    """Orders per promo code among orders paid in the window (codes are not personal data)."""
    if not _maintained(start, end):
        return await _scanned_promo_code_uses(session, event_id, start, end)
    c = PROMO_SALES_HOURS.c
    uses = func.sum(c.orders)
    rows = await session.execute(
        select(c.promo_code, uses)
        .where(c.event_id == event_id, *_hours(PROMO_SALES_HOURS, start, end))
        .group_by(c.promo_code)
        .having(uses > 0)
        .order_by(uses.desc(), c.promo_code)
    )
    return [(str(r[0]), int(r[1])) for r in rows]


async def _buyer_groups(session: AsyncSession, event_id: int, column: Any) -> dict[str, int]:
    """Distinct buyers of PAID orders per label (a buyer is in exactly one group)."""
    c = EVENT_BUYER_GROUPS.c
    rows = await session.execute(
        select(column, func.sum(c.buyers))
        .where(c.event_id == event_id, c.buyers > 0)
        .group_by(column)
    )
    counts: dict[str, int] = {}
    for label, n in rows:
        key = "unknown" if label is None or label == "" else str(label)
        counts[key] = counts.get(key, 0) + int(n)
    return {k: v for k, v in counts.items() if v}


async def age_bands(
    session: AsyncSession, event_id: int, year: int | None = None
) -> list[tuple[str, int]]:
    this_year = year or datetime.now(UTC).year
    birth_year = EVENT_BUYER_GROUPS.c.birth_year
    age = this_year - birth_year
    band = case(
        *[(and_(birth_year != 0, age.between(low, high)), label) for low, high, label in AGE_BANDS],
        else_=None,
    )
    return merge_small_groups(await _buyer_groups(session, event_id, band))


async def countries(session: AsyncSession, event_id: int) -> list[tuple[str, int]]:
    return merge_small_groups(await _buyer_groups(session, event_id, EVENT_BUYER_GROUPS.c.country))


async def organizer_totals(
    session: AsyncSession, organizer_id: int | None, start: datetime | None, end: datetime | None
) -> OrganizerTotals:
    """Across one organizer's events (None: the whole platform), orders paid in [start, end)."""
    if not _maintained(start, end):
        return await _scanned_organizer_totals(session, organizer_id, start, end)
    whole = start is None and end is None
    table = EVENT_SALES if whole else SALES_HOURS
    c = table.c
    conditions: list[Any] = [] if whole else _hours(table, start, end)
    if organizer_id is not None:
        owned = select(col(Event.id)).where(col(Event.organizer_id) == organizer_id)
        conditions.append(c.event_id.in_(owned.scalar_subquery()))
    rows = (
        await session.execute(
            select(
                c.currency,
                _sum(c.orders),
                _sum(c.tickets),
                _sum(c.gross),
                _sum(c.refunds),
            )
            .where(*conditions)
            .group_by(c.currency)
        )
    ).all()
    events = await session.scalar(
        select(func.count(distinct(c.event_id))).where(*conditions, c.orders > 0)
    )
    return OrganizerTotals(
        int(events or 0),
        sum(int(r[1]) for r in rows),
        sum(int(r[2]) for r in rows),
        sum(int(r[3]) for r in rows),
        sum(int(r[4]) for r in rows),
        {str(r[0]): int(r[3]) - int(r[4]) for r in rows if r[1]},
    )


async def users_by_role(session: AsyncSession) -> list[tuple[str, int]]:
    """Active accounts per role, as the users triggers keep them (models/sales.py)."""
    from eventhub.models.users import ROLES

    counts = dict((await session.execute(select(ROLE_COUNTS.c.role, ROLE_COUNTS.c.users))).all())
    return [(role, int(counts.get(role, 0))) for role in ROLES]


async def top_events(session: AsyncSession, limit: int = 10) -> list[tuple[int, int]]:
    """(event id, tickets sold) of the best-selling events: the top of an index."""
    c = EVENT_SALES.c
    rows = await session.execute(
        select(c.event_id, c.tickets)
        .where(c.tickets > 0)
        .order_by(c.tickets.desc(), c.event_id)
        .limit(limit)
    )
    return [(int(r[0]), int(r[1])) for r in rows]
