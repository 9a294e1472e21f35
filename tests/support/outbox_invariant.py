"""The outbox invariant: every committed change has exactly one message; nothing else does.

Orders: one `order.paid` for each order that was ever paid (`paid_at` set), one
`order.refunded` for each paid order now REFUNDED, one `order.cancelled` for each
CANCELLED order (at most one for any order); no message names an order that does
not exist (a rolled-back booking). Events: an event with no seat left has had at
least one `event.sold_out` (exactly one when `strict_sold_out`, for races without
refunds). Checked on what was really stored.
"""

from __future__ import annotations

import base64
import json
from collections import Counter
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


def _pk(global_id: str) -> int:
    raw = base64.urlsafe_b64decode(global_id + "=" * (-len(global_id) % 4)).decode()
    return int(raw.partition(":")[2])


async def _rows(session: AsyncSession, sql: str) -> list[Any]:
    return list((await session.execute(text(sql))).all())


async def outbox_problems(session: AsyncSession, *, strict_sold_out: bool = False) -> list[str]:
    per_order: Counter[tuple[int, str]] = Counter()
    sold_out: Counter[int] = Counter()
    for kind, payload, event_id in await _rows(
        session, "SELECT kind, payload, event_id FROM outbox_messages"
    ):
        data = json.loads(payload)["data"]
        if kind.startswith("order."):
            per_order[(_pk(data["order"]["id"]), kind)] += 1
        elif kind == "event.sold_out":
            sold_out[event_id] += 1
    problems: list[str] = []
    orders = {o.id: o for o in await _rows(session, "SELECT id, status, paid_at FROM orders")}
    for (order_id, kind), count in per_order.items():
        if order_id not in orders:
            problems.append(f"{count} {kind} message(s) for order {order_id}, which does not exist")
    for o in orders.values():
        expected = {
            "order.paid": int(o.paid_at is not None),
            "order.refunded": int(o.status == "REFUNDED" and o.paid_at is not None),
        }
        if o.status == "CANCELLED":
            expected["order.cancelled"] = 1
        for kind, want in expected.items():
            if per_order[(o.id, kind)] != want:
                problems.append(
                    f"order {o.id} ({o.status}): {per_order[(o.id, kind)]} {kind}, expected {want}"
                )
        if per_order[(o.id, "order.cancelled")] > 1:
            problems.append(f"order {o.id}: {per_order[(o.id, 'order.cancelled')]} order.cancelled")
    for e in await _rows(session, "SELECT id, sold, capacity FROM events"):
        full = e.sold >= e.capacity
        count = sold_out[e.id]
        if (full and count == 0) or (strict_sold_out and count != int(full)):
            problems.append(f"event {e.id} (sold {e.sold}/{e.capacity}): {count} event.sold_out")
    return problems
