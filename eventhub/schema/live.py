"""Subscriptions: live capacity (public) and live sales (organizer and admins)."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from datetime import datetime

import strawberry
from strawberry.types import Info

from eventhub.global_ids import encode_id
from eventhub.live.execution import live_payload
from eventhub.live.state import State
from eventhub.live.texts import PayloadTexts
from eventhub.resolvers import live
from eventhub.schema.common import Money
from eventhub.schema.event_types import TicketType
from eventhub.schema.permissions import requires_role
from eventhub.schema.roles import Role


def payload_texts(info: Info) -> PayloadTexts:
    """This subscription's texts: sent as encoded once per operation when its socket allows."""
    return PayloadTexts(info.context.live_socket, info.operation, info.variable_values)


@live_payload
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
    def of(cls, state: State) -> CapacityUpdate:
        """One payload per state, for all its subscribers (see live/execution.py)."""
        return state.memo.payload(cls, lambda: cls._build(state))

    @classmethod
    def _build(cls, state: State) -> CapacityUpdate:
        return cls(
            event_id=strawberry.ID(encode_id("Event", state.event.id)),
            sold=state.event.sold,
            remaining=state.remaining,
            ticket_types=[TicketType.from_row(t, state.event.currency) for t in state.tiers],
            at=state.at,
            capacity=state.event.capacity,
        )


@live_payload
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
    def of(cls, state: State) -> SalesSnapshot:
        return state.memo.payload(cls, lambda: cls._build(state))

    @classmethod
    def _build(cls, state: State) -> SalesSnapshot:
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
        texts = payload_texts(info)
        states = live.watch(info.context, event_id, sales=False, direct=texts.direct)
        async with contextlib.aclosing(states):  # closed with the subscription, not by the GC
            async for state in states:
                if not await texts.sent(state):
                    yield CapacityUpdate.of(state)

    @strawberry.subscription(extensions=requires_role(Role.ORGANIZER, Role.ADMIN))
    async def sales_updated(
        self, info: Info, event_id: strawberry.ID
    ) -> AsyncGenerator[SalesSnapshot, None]:
        texts = payload_texts(info)
        states = live.watch(info.context, event_id, sales=True, direct=texts.direct)
        async with contextlib.aclosing(states):
            async for state in states:
                if not await texts.sent(state):
                    yield SalesSnapshot.of(state)
