"""Random bookings, cancels, refunds, expiries and races never break the seat accounting.

A hypothesis state machine drives the services (not HTTP) on both databases
and checks `tests.support.invariant` after every step. Each outcome is also
checked against the state just before it: SOLD_OUT only when there really was
no room, PROMO_EXHAUSTED only when the code was used up, and so on.

Every step does the same given the same draws (a ManualClock, no race's winner
left behind, no draw that depends on the database), so hypothesis can replay a
failing sequence and shrink it to a few steps.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Coroutine
from concurrent.futures import Future
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

import hypothesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import delete, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from eventhub.models import (
    CustomerHold,
    CustomerPending,
    Event,
    EventStaff,
    Order,
    OrderItem,
    OutboxDelivery,
    OutboxMessage,
    PromoCode,
    Ticket,
    TicketType,
)
from eventhub.models.database import create_engine, create_session_factory
from eventhub.services import audit, booking, cancellations, events, promos, users
from eventhub.services.errors import DomainError
from eventhub.services.hold_sweeper import sweep_once
from eventhub.services.payments import OfflineProvider
from eventhub.settings import Settings
from tests.support.clock import ManualClock
from tests.support.invariant import HoldingProvider, check_invariant

T = TypeVar("T")
Work = Callable[[AsyncSession], Awaitable[Any]]  # one service call, given its own session
SEAT_MODELS = (
    OutboxDelivery,
    OutboxMessage,
    CustomerHold,
    CustomerPending,
    Ticket,
    OrderItem,
    Order,
    PromoCode,
    TicketType,
    EventStaff,
    Event,
)
POLICY = booking.BookingPolicy(hold_seconds=600, max_per_tier=10)
CODES = ["half", "HALF", "five", "One", "nope"]  # FIVE covers B only; ONE has one use
BOOKING_OUTCOMES = {
    "SOLD_OUT",
    "PROMO_INVALID",
    "PROMO_EXHAUSTED",
    "VALIDATION",
    "SALES_CLOSED",
    "LIMIT_EXCEEDED",
}
ORDER = st.integers(0, 999)
START = datetime.now(UTC).replace(microsecond=0)  # sales are open: events start days later
EXAMPLES = hypothesis.settings(
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)


def tier(name: str, price: str, limit: int) -> events.NewTicketType:
    return events.NewTicketType(name, Decimal(price), limit)


def code(text_: str, kind: str, value: str, uses: int | None, names: Any = None) -> Any:
    return promos.NewPromoCode(text_, kind, Decimal(value), uses, ticket_type_names=names)


EVENTS = [
    (
        [tier("A", "10", 3), tier("B", "25", 5), tier("Free", "0", 2)],
        8,
        [
            code("HALF", "PERCENT", "50", 2),
            code("FIVE", "FIXED", "5", None, ["B"]),
            code("ONE", "FIXED", "1", 1),
        ],
    ),
    ([tier("X", "7", 8), tier("Y", "0.50", 15)], 20, [code("HALF", "PERCENT", "50", 3)]),
]


class BookingMachine(RuleBasedStateMachine):
    """Runs on a worker thread; every service call runs on the test's event loop."""

    factory: ClassVar[async_sessionmaker[AsyncSession]]
    loop: ClassVar[asyncio.AbstractEventLoop]

    def __init__(self) -> None:
        super().__init__()
        self.offline, self.waiting = OfflineProvider(), HoldingProvider()
        self.clock = ManualClock(START)  # every example sees the same instants
        self.buyer_of: dict[int, audit.Actor] = {}  # every order placed, with its buyer
        self.organizer, self.buyers, self.events = self.run(self.arrange())

    def run(self, work: Coroutine[Any, Any, T]) -> T:
        future: Future[T] = asyncio.run_coroutine_threadsafe(work, self.loop)
        return future.result(timeout=60)

    async def arrange(self) -> tuple[audit.Actor, list[audit.Actor], list[tuple[int, list[int]]]]:
        async with self.factory() as session:
            for model in SEAT_MODELS:  # each example starts with no events (audit is append-only)
                await session.execute(delete(model))
            await session.commit()
            organizer = await self.account(session, "ORGANIZER")
            buyers = [await self.account(session, "CUSTOMER") for _ in range(2)]
            made = []
            for tiers, capacity, codes in EVENTS:
                starts = self.clock.now() + timedelta(days=3)
                data = events.NewEvent("Show", starts, capacity, tiers, promo_codes=codes)
                event = await events.create_event(session, data, organizer)
                assert event.id is not None
                await events.publish_event(session, event.id, organizer)
                tier_ids = [t.id or 0 for t in await events.list_ticket_types(session, event.id)]
                made.append((event.id, tier_ids))
        return organizer, buyers, made

    @staticmethod
    async def account(session: AsyncSession, role: str) -> audit.Actor:
        data = users.Registration(
            f"{uuid.uuid4().hex}@example.com", "x" * 12, "Someone", as_organizer=role == "ORGANIZER"
        )
        user = await users.create_user(session, data, "not-a-hash", audit.SYSTEM)
        return audit.Actor(user.id, None, frozenset({"CUSTOMER", role}))

    async def call(self, work: Work) -> Any:
        """Run one service call in its own session; a DomainError is returned, not raised."""
        async with self.factory() as session:
            try:
                return await work(session)
            except DomainError as error:
                return error

    async def rows(self, sql: str, **params: Any) -> list[Any]:
        async with self.factory() as session:
            found = list((await session.execute(text(sql), params)).all())
            await session.rollback()
        return found

    async def room(
        self, event_id: int, lines: dict[int, int], promo: str | None
    ) -> tuple[bool, str]:
        """(whether the seats fit, promo state) just before a booking."""
        (event,) = await self.rows("SELECT sold, capacity FROM events WHERE id = :e", e=event_id)
        tiers = {
            r.id: r
            for r in await self.rows(
                "SELECT id, sold, seat_limit FROM ticket_types WHERE event_id = :e", e=event_id
            )
        }
        fits = event.sold + sum(lines.values()) <= event.capacity and all(
            tiers[t].sold + q <= tiers[t].seat_limit for t, q in lines.items()
        )
        used = await self.rows(
            "SELECT uses, max_uses FROM promo_codes WHERE event_id = :e AND code = :c",
            e=event_id,
            c=(promo or "").upper(),
        )
        exhausted = bool(used) and used[0].max_uses is not None and used[0].uses >= used[0].max_uses
        return fits, "exhausted" if exhausted else "ok"

    async def status(self, order_id: int) -> str:
        return str((await self.rows("SELECT status FROM orders WHERE id = :o", o=order_id))[0][0])

    def book(
        self,
        event_no: int,
        picks: list[tuple[int, int]],
        promo: str | None,
        waits: bool,
        buyer_no: int,
    ) -> tuple[Work, audit.Actor, list[booking.LineRequest]]:
        event_id, tier_ids = self.events[event_no]
        lines = [booking.LineRequest(tier_ids[i % len(tier_ids)], q) for i, q in picks]
        request = booking.ReservationRequest(event_id, lines, promo)
        buyer, provider = self.buyers[buyer_no], self.waiting if waits else self.offline
        now = self.clock.now()
        return (
            lambda s: booking.reserve(s, request, buyer, POLICY, provider, now=now),
            buyer,
            lines,
        )

    @rule(
        event_no=st.integers(0, 1),
        waits=st.booleans(),
        picks=st.lists(st.tuples(st.integers(0, 2), st.integers(1, 4)), min_size=1, max_size=3),
        promo=st.none() | st.sampled_from(CODES),
        buyer_no=st.integers(0, 1),
    )
    def reserve(
        self,
        event_no: int,
        picks: list[tuple[int, int]],
        promo: str | None,
        waits: bool,
        buyer_no: int,
    ) -> None:
        work, buyer, lines = self.book(event_no, picks, promo, waits, buyer_no)
        per_tier: dict[int, int] = {}
        for line in lines:
            per_tier[line.ticket_type_id] = per_tier.get(line.ticket_type_id, 0) + line.quantity
        fits, promo_state = self.run(self.room(self.events[event_no][0], per_tier, promo))
        pending = self.run(
            self.rows(
                "SELECT COUNT(*) FROM orders WHERE buyer_id = :b AND status = 'PENDING'",
                b=buyer.user_id,
            )
        )[0][0]
        outcome = self.run(self.call(work))
        if isinstance(outcome, DomainError):
            assert outcome.code in BOOKING_OUTCOMES, outcome
            assert outcome.code != "LIMIT_EXCEEDED" or pending >= POLICY.max_pending_orders
            assert outcome.code != "SOLD_OUT" or not fits, "SOLD_OUT although the seats fit"
            assert outcome.code != "PROMO_EXHAUSTED" or promo_state == "exhausted"
            return
        assert fits, "booked seats that did not fit"
        assert max(per_tier.values()) <= POLICY.max_per_tier
        paid_at_once = not waits or outcome.total_minor == 0
        assert outcome.status == ("PAID" if paid_at_once else "PENDING")
        assert outcome.total_minor == outcome.subtotal_minor - outcome.discount_minor
        self.buyer_of[outcome.id] = buyer

    @rule(
        picks=st.lists(
            st.tuples(st.integers(0, 2), st.integers(1, 3), st.booleans()), min_size=2, max_size=4
        ),
    )
    def race(self, picks: list[tuple[int, int, bool]]) -> None:
        """Several buyers at once on the small event: whatever wins, nothing oversells."""
        bookings = [
            self.book(0, [(i, q)], None, waits, n % 2) for n, (i, q, waits) in enumerate(picks)
        ]

        async def together() -> list[Any]:
            return await asyncio.gather(*(self.call(work) for work, _, _ in bookings))

        won = []
        for outcome, (_, buyer, _) in zip(self.run(together()), bookings, strict=True):
            if isinstance(outcome, DomainError):
                assert outcome.code in BOOKING_OUTCOMES, outcome
            else:
                won.append((outcome.id, buyer))
        self.seats_add_up()
        # Which racer won varies from run to run. Give the winners' seats back, so nothing
        # after the race depends on it: every step is then replayed exactly, and a failing
        # sequence shrinks instead of ending in FlakyStrategyDefinition.
        for order_id, buyer in won:
            self.undo(order_id, buyer)

    def undo(self, order_id: int, buyer: audit.Actor) -> None:
        """The buyer cancels the order: a hold is released, a paid order refunded."""
        now = self.clock.now()
        work: Work = lambda s: cancellations.cancel_order(  # noqa: E731
            s, order_id, buyer, self.offline, now=now
        )
        assert not isinstance(undone := self.run(self.call(work)), DomainError), undone
        assert self.run(self.status(order_id)) in {"CANCELLED", "REFUNDED"}

    def chosen(self, pick: int) -> int | None:
        """One of the orders placed so far (drawing never depends on the database)."""
        placed = list(self.buyer_of)
        return placed[pick % len(placed)] if placed else None

    @rule(pick=ORDER, by=st.sampled_from(["buyer", "organizer", "stranger"]))
    def cancel(self, pick: int, by: str) -> None:
        if (order_id := self.chosen(pick)) is None:
            return
        buyer = self.buyer_of[order_id]
        stranger = next(b for b in self.buyers if b != buyer)
        actor = {"buyer": buyer, "organizer": self.organizer, "stranger": stranger}[by]
        before = self.run(self.status(order_id))
        outcome = self.run(
            self.call(
                lambda s: cancellations.cancel_order(
                    s, order_id, actor, self.offline, now=self.clock.now()
                )
            )
        )
        expected = {"PENDING": "CANCELLED", "PAID": "REFUNDED"}.get(before)
        if by == "stranger":
            assert getattr(outcome, "code", None) == "NOT_FOUND", outcome
            expected = None
        elif expected is None:
            assert getattr(outcome, "code", None) == "NOT_REFUNDABLE", outcome
        assert self.run(self.status(order_id)) == (expected or before)

    @rule(pick=ORDER)
    def refund(self, pick: int) -> None:
        if (order_id := self.chosen(pick)) is None:
            return
        before = self.run(self.status(order_id))
        outcome = self.run(
            self.call(
                lambda s: cancellations.refund_order(
                    s, order_id, self.organizer, self.offline, "test"
                )
            )
        )
        if before != "PAID":
            assert getattr(outcome, "code", None) == "NOT_REFUNDABLE", outcome
        assert self.run(self.status(order_id)) == ("REFUNDED" if before == "PAID" else before)

    @rule(pick=ORDER)
    def expire(self, pick: int) -> None:
        """Force the hold past its expiry, then let two sweepers race for it."""
        if (order_id := self.chosen(pick)) is None:
            return
        before = self.run(self.status(order_id))

        async def force_and_sweep() -> int:
            async with self.factory() as session:
                past = self.clock.now() - timedelta(seconds=1)
                await session.execute(
                    text("UPDATE orders SET expires_at = :t WHERE id = :o AND status = 'PENDING'"),
                    {"t": past, "o": order_id},
                )
                await session.commit()
            return sum(
                await asyncio.gather(
                    sweep_once(self.factory, self.clock), sweep_once(self.factory, self.clock)
                )
            )

        assert self.run(force_and_sweep()) == (before == "PENDING")
        assert self.run(self.status(order_id)) == ("EXPIRED" if before == "PENDING" else before)

    @rule(event_no=st.integers(0, 1), chance=st.integers(0, 4))
    def cancel_event(self, event_no: int, chance: int) -> None:
        """Rarely (one draw in five): a cancelled event ends most of the story."""
        if chance:
            return
        event_id = self.events[event_no][0]
        self.run(
            self.call(lambda s: events.cancel_event(s, event_id, self.organizer, self.offline))
        )
        live = self.run(
            self.rows(
                "SELECT id FROM orders WHERE event_id = :e AND status IN ('PENDING', 'PAID')",
                e=event_id,
            )
        )
        assert live == []

    @invariant()
    def seats_add_up(self) -> None:
        async def check() -> None:
            async with self.factory() as session:
                await check_invariant(session)

        self.run(check())


async def test_seat_accounting_survives_any_sequence_of_operations(settings: Settings) -> None:
    engine = create_engine(settings.database_url)
    machine = type(
        "Machine",
        (BookingMachine,),
        {"factory": create_session_factory(engine), "loop": asyncio.get_running_loop()},
    )
    try:
        await asyncio.to_thread(run_state_machine_as_test, machine, settings=EXAMPLES)
    finally:
        await engine.dispose()
