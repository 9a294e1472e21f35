"""`totalCount` costs a count only when a query selects it (both databases)."""

from __future__ import annotations

from typing import Any

from tests.api.test_dataloaders import publish_events, quiet_app, statements_for
from tests.support.graphql import GraphQLClient, make_admin

__all__ = ["quiet_app"]

COUNTED = "{ %s(first: 2) { totalCount edges { node { id } } } }"
UNCOUNTED = "{ %s(first: 2) { edges { node { id } } pageInfo { hasNextPage } } }"


def counts(statements: list[str]) -> list[str]:
    return [s for s in statements if "count(" in s.lower()]


async def test_every_connection_counts_only_when_total_count_is_selected(
    quiet_app: tuple[Any, GraphQLClient],
) -> None:
    app, client = quiet_app
    organizer = await client.register(organizer=True)
    admin = await make_admin(app, client)
    await publish_events(app, [organizer], 3)
    for field, token in (
        ("events", None),
        ("myEvents", organizer.token),
        ("myOrders", organizer.token),
        ("users", admin.token),
        ("orders", admin.token),
        ("auditLog", admin.token),
    ):
        counted = await statements_for(app, client, COUNTED % field, token=token)
        body = await client.data(COUNTED % field, token=token)
        uncounted = await statements_for(app, client, UNCOUNTED % field, token=token)
        assert len(counts(counted)) == 1, (field, counted)
        assert counts(uncounted) == [], (field, uncounted)
        expected = {"events": 3, "myEvents": 3, "myOrders": 0, "users": 2, "orders": 0}
        if field in expected:
            assert body[field]["totalCount"] == expected[field], field
        else:
            assert body[field]["totalCount"] >= 3, field  # event.create and publish entries
