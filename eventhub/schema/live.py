"""Subscriptions: live capacity (public) and live sales (organizer and admins)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator, Callable
from datetime import datetime
from typing import cast

import strawberry
from strawberry.types import Info

from eventhub.resolvers import live
from eventhub.resolvers.ids import encode_id
from eventhub.schema.common import Money
from eventhub.schema.event_types import TicketType
from eventhub.schema.live_delivery import SharedText
from eventhub.schema.permissions import requires_role
from eventhub.schema.roles import Role
from eventhub.schema.shared_execution import shared_payload
from eventhub.services.live_state import LiveState


def once_per_state(state: LiveState, kind: str, build: Callable[[LiveState], object]) -> object:
    """One payload object per state, shared by its subscribers (see SharedEventExecutor)."""
    payload = state.shared.get(kind)
    if payload is None:
        payload = state.shared[kind] = build(state)
    return payload


@shared_payload
@strawberry.type
class CapacityUpdate:
    event_id: strawberry.ID
    sold: int
    remaining: int
    ticket_types: list[TicketType]
    at: datetime
    capacity: int = strawberry.field(
        description="the event's capacity now (updateEvent may change it)"
    )

    @classmethod
    def of(cls, state: LiveState) -> CapacityUpdate:
        return cast(CapacityUpdate, once_per_state(state, "capacity", cls._build))

    @classmethod
    def _build(cls, state: LiveState) -> CapacityUpdate:
        return cls(
            event_id=strawberry.ID(encode_id("Event", state.event.id)),
            sold=state.event.sold,
            remaining=state.remaining,
            ticket_types=[TicketType.from_row(t, state.event.currency) for t in state.tiers],
            at=state.at,
            capacity=state.event.capacity,
        )


@shared_payload
@strawberry.type
class SalesSnapshot:
    event_id: strawberry.ID
    tickets_sold: int
    net_revenue: Money
    checked_in: int
    at: datetime
    gross_revenue: Money = strawberry.field(description="paid orders, refunded ones included")
    refunds: Money = strawberry.field(description="money returned so far")
    discounts: Money = strawberry.field(description="promo discounts given on paid orders")

    @classmethod
    def of(cls, state: LiveState) -> SalesSnapshot:
        return cast(SalesSnapshot, once_per_state(state, "sales", cls._build))

    @classmethod
    def _build(cls, state: LiveState) -> SalesSnapshot:
        return cls(
            event_id=strawberry.ID(encode_id("Event", state.event.id)),
            tickets_sold=state.totals.tickets_sold,
            net_revenue=Money.of(state.totals.net_minor, state.event.currency),
            checked_in=state.totals.checked_in,
            at=state.at,
            gross_revenue=Money.of(state.totals.gross_minor, state.event.currency),
            refunds=Money.of(state.totals.refunds_minor, state.event.currency),
            discounts=Money.of(state.totals.discounts_minor, state.event.currency),
        )


@strawberry.type
class Subscription:
    @strawberry.subscription(description="public for published events")
    async def capacity_changed(
        self, info: Info, event_id: strawberry.ID
    ) -> AsyncGenerator[CapacityUpdate, None]:
        shared = SharedText(info)
        states = live.watch(info.context, event_id, sales=False, express=shared.express)
        async with contextlib.aclosing(states):  # closed with the subscription, not by the GC
            async for state in states:
                if not await shared.sent(state):
                    yield CapacityUpdate.of(state)

    @strawberry.subscription(extensions=requires_role(Role.ORGANIZER, Role.ADMIN))
    async def sales_updated(
        self, info: Info, event_id: strawberry.ID
    ) -> AsyncGenerator[SalesSnapshot, None]:
        shared = SharedText(info)
        states = live.watch(info.context, event_id, sales=True, express=shared.express)
        async with contextlib.aclosing(states):
            async for state in states:
                if not await shared.sent(state):
                    yield SalesSnapshot.of(state)
