"""The triggers that keep `models/sales.py` current, as SQL for PostgreSQL and SQLite.

One generator writes the statements for both dialects (they differ only in how
an hour is truncated and how a trigger wraps its statements), so the two
databases keep the same figures the same way. Contributions are additive: a
change takes away what the old row contributed and adds what the new one does.

Who adds what, so nothing is counted twice whatever order rows arrive in
(PostgreSQL fires the booking statement's row triggers at its end, SQLite at
each row): an inserted order adds its own columns; an inserted item adds its
seats while its order is PAID; an inserted ticket adds itself; an order whose
status (or paid_at) changes moves its whole contribution, items and live
tickets included, from the old state to the new.
"""

from __future__ import annotations

from dataclasses import dataclass

from eventhub.models.sales import MAINTAINED
from eventhub.models.users import ROLES

ONCE = "('PAID', 'REFUNDED')"


def hour(dialect: str, timestamp: str) -> str:
    """The UTC hour of a timestamp, as the `hour` columns store it."""
    if dialect == "postgresql":
        return f"date_trunc('hour', {timestamp}, 'UTC')"
    return f"strftime('%Y-%m-%d %H:00:00.000000', {timestamp})"


def upsert(table: str, keys: dict[str, str], measures: dict[str, str], rest: str) -> str:
    """Add `measures` to the row of `table` at `keys` (made if missing); `rest` is the
    SELECT's FROM/WHERE (SQLite needs a WHERE there to read ON CONFLICT right)."""
    key_columns = MAINTAINED[table][0]
    columns = [*keys, *measures]
    added = ", ".join(f"{m} = {table}.{m} + excluded.{m}" for m in measures)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) "
        f"SELECT {', '.join([*keys.values(), *measures.values()])} {rest} "
        f"ON CONFLICT ({', '.join(key_columns)}) DO UPDATE SET {added}"
    )


def _when(condition: str, value: str) -> str:
    return f"CASE WHEN {condition} THEN {value} ELSE 0 END"


def order_contribution(dialect: str, row: str, sign: str, *, children: bool) -> list[str]:
    """What order `row` (NEW or OLD) adds, times `sign` ('' or '-'); `children`: its items
    and live tickets too (on a status change; an inserted order has none yet)."""
    once, paid = f"{row}.status IN {ONCE}", f"{row}.status = 'PAID'"
    seats = f"(SELECT coalesce(sum(quantity), 0) FROM order_items WHERE order_id = {row}.id)"
    live = f"(SELECT count(*) FROM tickets WHERE order_id = {row}.id AND status <> 'VOID')"
    used = f"(SELECT count(*) FROM tickets WHERE order_id = {row}.id AND status = 'USED')"
    measures = {
        "orders": _when(once, "1"),
        "gross": _when(once, f"{row}.total_minor"),
        "discounts": _when(once, f"{row}.discount_minor"),
        "refunds": _when(f"{row}.status = 'REFUNDED'", f"{row}.total_minor"),
        "paid_orders": _when(paid, "1"),
        "paid_total": _when(paid, f"{row}.total_minor"),
    }
    where = f"WHERE {once}"
    if children:
        measures |= {"seats": _when(paid, seats), "tickets": live, "checked_in": used}
        where += (
            f" OR EXISTS (SELECT 1 FROM tickets WHERE order_id = {row}.id AND status <> 'VOID')"
        )
    signed = {name: f"{sign}({value})" for name, value in measures.items()}
    at = hour(dialect, f"coalesce({row}.paid_at, {row}.created_at)")
    event = {"event_id": f"{row}.event_id"}
    money = {"currency": f"{row}.currency"}
    statements = [
        upsert("event_sales", event | money, signed, where),
        upsert("sales_hours", event | {"hour": at} | money, signed, where),
        upsert(
            "promo_sales_hours",
            event | {"promo_code": f"{row}.promo_code", "hour": at},
            {"orders": f"{sign}1"},
            f"WHERE {paid} AND {row}.promo_code IS NOT NULL",
        ),
        upsert(
            "event_buyers",
            event | {"buyer_id": f"{row}.buyer_id"},
            {"paid_orders": f"{sign}1"},
            f"WHERE {paid}",
        ),
    ]
    if children:
        tiers = {
            "seats": f"{sign}(sum(i.quantity))",
            "revenue": f"{sign}(sum((i.unit_price_minor - i.unit_discount_minor) * i.quantity))",
        }
        items = (
            f"FROM order_items i WHERE i.order_id = {row}.id AND {paid} GROUP BY i.ticket_type_id"
        )
        tier = {"ticket_type_id": "i.ticket_type_id"}
        statements += [
            upsert("tier_sales", tier | event, tiers, items),
            upsert("tier_sales_hours", tier | {"hour": at} | event, tiers, items),
        ]
    return statements


def _item_added(dialect: str) -> list[str]:
    order = "FROM orders o WHERE o.id = NEW.order_id AND o.status = 'PAID'"
    at = hour(dialect, "coalesce(o.paid_at, o.created_at)")
    event, money = {"event_id": "o.event_id"}, {"currency": "o.currency"}
    tier = {"ticket_type_id": "NEW.ticket_type_id"}
    revenue = "(NEW.unit_price_minor - NEW.unit_discount_minor) * NEW.quantity"
    return [
        upsert("event_sales", event | money, {"seats": "NEW.quantity"}, order),
        upsert("sales_hours", event | {"hour": at} | money, {"seats": "NEW.quantity"}, order),
        upsert("tier_sales", tier | event, {"seats": "NEW.quantity", "revenue": revenue}, order),
        upsert(
            "tier_sales_hours",
            tier | {"hour": at} | event,
            {"seats": "NEW.quantity", "revenue": revenue},
            order,
        ),
    ]


def _ticket_changed(dialect: str, *, inserted: bool) -> list[str]:
    live, used = "NEW.status <> 'VOID'", "NEW.status = 'USED'"
    tickets, checked_in = _when(live, "1"), _when(used, "1")
    if not inserted:
        tickets += f" - {_when('OLD.status <> ' + chr(39) + 'VOID' + chr(39), '1')}"
        checked_in += f" - {_when('OLD.status = ' + chr(39) + 'USED' + chr(39), '1')}"
    order = "FROM orders o WHERE o.id = NEW.order_id"
    at = hour(dialect, "coalesce(o.paid_at, o.created_at)")
    event, money = {"event_id": "o.event_id"}, {"currency": "o.currency"}
    measures = {"tickets": tickets, "checked_in": checked_in}
    return [
        upsert("event_sales", event | money, measures, order),
        upsert("sales_hours", event | {"hour": at} | money, measures, order),
    ]


def _buyer_changed(*, inserted: bool) -> list[str]:
    buyers = "1" if inserted else "CASE WHEN NEW.paid_orders > 0 THEN 1 ELSE -1 END"
    condition = " AND NEW.paid_orders > 0" if inserted else ""
    keys = {
        "event_id": "NEW.event_id",
        "birth_year": "coalesce(u.birth_year, 0)",
        "country": "coalesce(u.country, '')",
    }
    rest = f"FROM users u WHERE u.id = NEW.buyer_id{condition}"
    return [upsert("event_buyer_groups", keys, {"buyers": buyers}, rest)]


def _holds(row: str, role: str) -> str:
    return f"{row}.is_active AND {row}.roles LIKE '%{role}%'"


def _user_changed(*, inserted: bool) -> list[str]:
    statements = []
    for role in ROLES:
        users = _when(_holds("NEW", role), "1")
        if not inserted:
            users += f" - {_when(_holds('OLD', role), '1')}"
        statements.append(
            upsert("role_counts", {"role": f"'{role}'"}, {"users": users}, "WHERE 1 = 1")
        )
    return statements


@dataclass(frozen=True)
class Trigger:
    name: str
    table: str
    timing: str  # "INSERT" or "UPDATE OF ..."
    when: str  # the WHEN condition; "" for none
    statements: list[str]


def triggers(dialect: str) -> list[Trigger]:
    differs = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    order_changed = f"OLD.status {differs} NEW.status OR OLD.paid_at {differs} NEW.paid_at"
    return [
        Trigger(
            "sales_order_inserted",
            "orders",
            "INSERT",
            "",
            order_contribution(dialect, "NEW", "", children=False),
        ),
        Trigger(
            "sales_order_changed",
            "orders",
            "UPDATE OF status, paid_at",
            order_changed,
            order_contribution(dialect, "OLD", "-", children=True)
            + order_contribution(dialect, "NEW", "", children=True),
        ),
        Trigger("sales_item_inserted", "order_items", "INSERT", "", _item_added(dialect)),
        Trigger(
            "sales_ticket_inserted",
            "tickets",
            "INSERT",
            "",
            _ticket_changed(dialect, inserted=True),
        ),
        Trigger(
            "sales_ticket_changed",
            "tickets",
            "UPDATE OF status",
            f"OLD.status {differs} NEW.status",
            _ticket_changed(dialect, inserted=False),
        ),
        Trigger(
            "sales_buyer_inserted", "event_buyers", "INSERT", "", _buyer_changed(inserted=True)
        ),
        Trigger(
            "sales_buyer_changed",
            "event_buyers",
            "UPDATE OF paid_orders",
            "(OLD.paid_orders > 0) <> (NEW.paid_orders > 0)",
            _buyer_changed(inserted=False),
        ),
        Trigger("sales_user_inserted", "users", "INSERT", "", _user_changed(inserted=True)),
        Trigger(
            "sales_user_changed",
            "users",
            "UPDATE OF roles, is_active",
            f"OLD.roles {differs} NEW.roles OR OLD.is_active {differs} NEW.is_active",
            _user_changed(inserted=False),
        ),
    ]


def create_statements(dialect: str) -> list[str]:
    """DDL creating every trigger (and, on PostgreSQL, its function)."""
    out = []
    for t in triggers(dialect):
        when = f" WHEN ({t.when})" if t.when else ""
        body = ";\n  ".join(t.statements)
        if dialect == "postgresql":
            out.append(
                f"CREATE FUNCTION {t.name}() RETURNS trigger LANGUAGE plpgsql AS $$\n"
                f"BEGIN\n  {body};\n  RETURN NULL;\nEND $$"
            )
            out.append(
                f"CREATE TRIGGER {t.name} AFTER {t.timing} ON {t.table} "
                f"FOR EACH ROW{when} EXECUTE FUNCTION {t.name}()"
            )
        else:
            out.append(
                f"CREATE TRIGGER {t.name} AFTER {t.timing} ON {t.table} "
                f"FOR EACH ROW{when} BEGIN\n  {body};\nEND"
            )
    return out


# Non-key, non-measure columns each table stores (set on insert, never summed).
EXTRA = {
    "event_sales": ("currency",),
    "sales_hours": ("currency",),
    "tier_sales": ("event_id",),
    "tier_sales_hours": ("event_id",),
}


def _order_rows(dialect: str) -> str:
    """One row per order that counts: its hour and its measures, as the triggers add them."""
    at = hour(dialect, "coalesce(o.paid_at, o.created_at)")
    paid = "o.status = 'PAID'"
    return f"""
SELECT o.event_id, o.currency, {at} AS hour,
  CASE WHEN o.status IN {ONCE} THEN 1 ELSE 0 END AS orders,
  CASE WHEN o.status IN {ONCE} THEN o.total_minor ELSE 0 END AS gross,
  CASE WHEN o.status IN {ONCE} THEN o.discount_minor ELSE 0 END AS discounts,
  CASE WHEN o.status = 'REFUNDED' THEN o.total_minor ELSE 0 END AS refunds,
  CASE WHEN {paid} THEN 1 ELSE 0 END AS paid_orders,
  CASE WHEN {paid} THEN o.total_minor ELSE 0 END AS paid_total,
  CASE WHEN {paid} THEN coalesce(i.seats, 0) ELSE 0 END AS seats,
  coalesce(k.live, 0) AS tickets, coalesce(k.used, 0) AS checked_in
FROM orders o
LEFT JOIN (SELECT order_id, sum(quantity) AS seats FROM order_items GROUP BY order_id) i
  ON i.order_id = o.id
LEFT JOIN (SELECT order_id, sum(CASE WHEN status <> 'VOID' THEN 1 ELSE 0 END) AS live,
                  sum(CASE WHEN status = 'USED' THEN 1 ELSE 0 END) AS used
           FROM tickets GROUP BY order_id) k ON k.order_id = o.id
WHERE o.status IN {ONCE} OR coalesce(k.live, 0) > 0"""


def scratch_queries(dialect: str) -> dict[str, str]:
    """Per maintained table, a SELECT of its columns (key, extra, measures) from the orders."""
    sums = ", ".join(f"sum({m})" for m in MAINTAINED["event_sales"][1])
    rows = _order_rows(dialect)
    at = hour(dialect, "coalesce(o.paid_at, o.created_at)")
    revenue = "sum((i.unit_price_minor - i.unit_discount_minor) * i.quantity)"
    paid_items = "FROM order_items i JOIN orders o ON o.id = i.order_id WHERE o.status = 'PAID'"
    return {
        "event_sales": f"SELECT event_id, max(currency), {sums} FROM ({rows}) r GROUP BY event_id",
        "sales_hours": f"SELECT event_id, hour, max(currency), {sums} FROM ({rows}) r"
        " GROUP BY event_id, hour",
        "tier_sales": f"SELECT i.ticket_type_id, max(o.event_id), sum(i.quantity), {revenue}"
        f" {paid_items} GROUP BY i.ticket_type_id",
        "tier_sales_hours": f"SELECT i.ticket_type_id, {at}, max(o.event_id), sum(i.quantity),"
        f" {revenue} {paid_items} GROUP BY 1, 2",
        "promo_sales_hours": f"SELECT o.event_id, o.promo_code, {at}, count(*) FROM orders o"
        " WHERE o.status = 'PAID' AND o.promo_code IS NOT NULL GROUP BY 1, 2, 3",
        "event_buyers": "SELECT event_id, buyer_id, count(*) FROM orders"
        " WHERE status = 'PAID' GROUP BY 1, 2",
        "event_buyer_groups": "SELECT b.event_id, coalesce(u.birth_year, 0),"
        " coalesce(u.country, ''), count(*)"
        " FROM (SELECT DISTINCT event_id, buyer_id FROM orders WHERE status = 'PAID') b"
        " JOIN users u ON u.id = b.buyer_id GROUP BY 1, 2, 3",
        "role_counts": " UNION ALL ".join(
            f"SELECT '{role}', count(*) FROM users u WHERE {_holds('u', role)}" for role in ROLES
        ),
    }


def table_columns(table: str) -> list[str]:
    keys, measures = MAINTAINED[table]
    return [*keys, *EXTRA.get(table, ()), *measures]


def rebuild_statements(dialect: str) -> list[str]:
    """Empty each maintained table and fill it from scratch (event_buyers before the groups
    its trigger adds to, which are then emptied and recounted)."""
    queries = scratch_queries(dialect)
    out = []
    for table in MAINTAINED:
        out.append(f"DELETE FROM {table}")
        columns = ", ".join(table_columns(table))
        out.append(f"INSERT INTO {table} ({columns}) {queries[table]}")
    return out


def drop_statements(dialect: str) -> list[str]:
    out = []
    for t in triggers(dialect):
        if dialect == "postgresql":
            out.append(f"DROP TRIGGER IF EXISTS {t.name} ON {t.table}")
            out.append(f"DROP FUNCTION IF EXISTS {t.name}()")
        else:
            out.append(f"DROP TRIGGER IF EXISTS {t.name}")
    return out
