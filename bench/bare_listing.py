"""The floor under bench/reads.py: the anonymous event listing with no GraphQL and no ORM.

One Starlette route on the same uvicorn stack (uvloop, httptools) does what the
listing needs and nothing else: the SELECTs the app issues for it (the page of
published events that have not ended, then their tiers; no count, which the app
too runs only for totalCount) straight through an asyncpg pool, and returns
JSON byte-identical to the app's answer to bench/reads.py's LISTING (reads.py
checks the bytes before it measures).

    BARE_DATABASE_URL=postgresql://... python bench/bare_listing.py --port 8100 --workers 2
"""

from __future__ import annotations

import argparse
import base64
import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import asyncpg
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PAGE_SIZE = 20
WHERE = "status = 'PUBLISHED' AND coalesce(ends_at, starts_at) >= $1"
PAGE = (
    f"SELECT id, name, starts_at, capacity, sold, currency FROM events WHERE {WHERE} "
    "ORDER BY starts_at, id LIMIT $2"
)
TIERS = (
    "SELECT id, event_id, name, price_minor, seat_limit, sold FROM ticket_types "
    "WHERE event_id = ANY($1::INTEGER[]) ORDER BY event_id, position, id"
)
CENTS = Decimal("0.01")


def global_id(kind: str, pk: int) -> str:
    return base64.urlsafe_b64encode(f"{kind}:{pk}".encode()).decode().rstrip("=")


def tier_json(row: asyncpg.Record, currency: str) -> dict[str, Any]:
    return {
        "id": global_id("TicketType", row["id"]),
        "name": row["name"],
        "price": {
            "amount": str(Decimal(row["price_minor"]).scaleb(-2).quantize(CENTS)),
            "currency": currency,
        },
        "remaining": max(row["seat_limit"] - row["sold"], 0),
    }


async def listing(request: Request) -> Response:
    pool: asyncpg.Pool = request.app.state.pool
    now = datetime.now(UTC)
    async with pool.acquire() as connection:
        events = await connection.fetch(PAGE, now, PAGE_SIZE + 1)
        events = events[:PAGE_SIZE]
        tiers = await connection.fetch(TIERS, [e["id"] for e in events])
    by_event: dict[int, list[asyncpg.Record]] = {e["id"]: [] for e in events}
    for tier in tiers:
        by_event[tier["event_id"]].append(tier)
    edges = []
    for event in events:
        rows = by_event[event["id"]]
        room = sum(max(t["seat_limit"] - t["sold"], 0) for t in rows)
        node = {
            "id": global_id("Event", event["id"]),
            "name": event["name"],
            "startsAt": event["starts_at"].isoformat(),
            "remaining": max(min(event["capacity"] - event["sold"], room), 0),
            "ticketTypes": [tier_json(t, event["currency"]) for t in rows],
        }
        edges.append({"node": node})
    body = {"data": {"events": {"edges": edges}}}
    text = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return Response(text, media_type="application/json")


def create_app() -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        size = int(os.environ.get("BARE_POOL_SIZE", "4"))
        app.state.pool = await asyncpg.create_pool(
            os.environ["BARE_DATABASE_URL"], min_size=1, max_size=size
        )
        try:
            yield
        finally:
            await app.state.pool.close()

    return Starlette(routes=[Route("/listing", listing, methods=["POST"])], lifespan=lifespan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        "bare_listing:create_app",
        factory=True,
        host="127.0.0.1",
        port=args.port,
        workers=args.workers,
        log_level="warning",
        app_dir=os.path.dirname(os.path.abspath(__file__)),
    )


if __name__ == "__main__":
    main()
