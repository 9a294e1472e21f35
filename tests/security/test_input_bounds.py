"""Hostile inputs are refused at the edge with a clear code, never INTERNAL, never slow.

Found by attack: a price of "1E+400000" took seconds (expanded into a
400,000-digit integer before the size check) and "1E+999999" answered INTERNAL;
a price of 21,474,836.48 or more, an id or cursor beyond 32 bits and a NUL
character in any string reached PostgreSQL and answered INTERNAL; so did
`uploadEventImage(file: "x")`. Each is refused now, before anything is written,
and the bounded work is shown by counting conversions, not by timing.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from eventhub.cursors import encode_cursor
from eventhub.global_ids import encode_id
from eventhub.schema import scalars
from eventhub.services import money
from tests.support.accounts import top_level_code
from tests.support.factories import CREATE_EVENT, RESERVE, conference_input, create_event, tier_id
from tests.support.graphql import GraphQLClient, make_admin

MAX_PRICE = "10000000000.00"  # money.MAX_MINOR cents: the largest price the API accepts
UPDATE = """mutation($id: ID!, $input: UpdateEventInput!) {
  updateEvent(id: $id, input: $input) { event { name } errors { code field message } } }"""


def one_tier(price: str) -> dict[str, Any]:
    tiers = [{"name": "Only", "price": price, "limit": 5}]
    return conference_input(ticketTypes=tiers, promoCodes=[])


async def count(session: AsyncSession, table: str) -> int:
    value = (await session.execute(text(f"SELECT COUNT(*) FROM {table}"))).scalar_one()
    await session.rollback()  # SQLite: never keep a read transaction the app must wait on
    return int(value)


class Calls:
    """Counts calls through a module's function while still calling it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str) -> None:
        self.count = 0
        real: Callable[..., Any] = getattr(owner, name)

        def counted(*args: Any, **kwargs: Any) -> Any:
            self.count += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, counted)


# --- numbers: bounded by their text, before any conversion -----------------------------------


@pytest.mark.parametrize("price", ["1E+400000", "1E+999999", "9" * 100_000, "NaN", "-Infinity"])
async def test_an_absurd_price_is_refused_before_it_is_converted(
    client: GraphQLClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch, price: str
) -> None:
    organizer = await client.register(organizer=True)
    to_decimal = Calls(monkeypatch, scalars, "Decimal")
    to_minor = Calls(monkeypatch, money, "_scaled_integer")
    body = await client.execute(CREATE_EVENT, {"input": one_tier(price)}, organizer.token)
    assert top_level_code(body) == "BAD_USER_INPUT"
    assert body["data"] is None
    assert (to_decimal.count, to_minor.count) == (0, 0)
    assert await count(session, "events") == 0


async def test_a_huge_number_literal_in_the_document_is_refused_unconverted(
    client: GraphQLClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, publish=False)
    to_decimal = Calls(monkeypatch, scalars, "Decimal")
    document = """mutation($id: ID!) { addTicketType(eventId: $id, input: {
      name: "Huge", price: 1e400000, limit: 1 }) { errors { code } } }"""
    body = await client.execute(document, {"id": event["id"]}, organizer.token)
    assert top_level_code(body) == "BAD_USER_INPUT"
    assert to_decimal.count == 0
    assert await count(session, "ticket_types") == 3


@pytest.mark.parametrize("field", ["first", "nested limit", "price"])
async def test_a_number_literal_of_thousands_of_digits_is_refused_before_validation(
    client: GraphQLClient, session: AsyncSession, field: str
) -> None:
    """graphql-core's Int converted the literal's text first and raised (INTERNAL)."""
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, publish=False)
    digits = "9" * 5000
    tier = 'mutation($id: ID!) { addTicketType(eventId: $id, input: { name: "X", NUMBERS }) {'
    documents = {
        "first": "query { events(first: DIGITS) { totalCount } }",
        "nested limit": tier.replace("NUMBERS", 'price: "1", limit: DIGITS')
        + " errors { code } } }",
        "price": tier.replace("NUMBERS", "price: DIGITS.5, limit: 1") + " errors { code } } }",
    }
    variables = {} if field == "first" else {"id": event["id"]}
    document = documents[field].replace("DIGITS", digits)
    body = await client.execute(document, variables, organizer.token)
    assert top_level_code(body) == "BAD_USER_INPUT"
    assert "number literal" in body["errors"][0]["message"]
    assert await count(session, "ticket_types") == 3


@pytest.mark.parametrize("when", ["9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"])
async def test_a_date_time_with_no_utc_equivalent_is_bad_input(
    client: GraphQLClient, when: str
) -> None:
    body = await client.execute(
        "query($at: DateTime) { events(filter: {startsAfter: $at}) { totalCount } }", {"at": when}
    )
    assert top_level_code(body) == "BAD_USER_INPUT"
    assert "out of range" in body["errors"][0]["message"]


@pytest.mark.parametrize("price", ["1E+20", "10000000000.01", "99999999999999999999999999.5"])
async def test_a_well_formed_price_above_the_maximum_is_refused_by_its_exponent(
    client: GraphQLClient, session: AsyncSession, monkeypatch: pytest.MonkeyPatch, price: str
) -> None:
    """Small text, large value: a VALIDATION error; scaled only when it can fit."""
    organizer = await client.register(organizer=True)
    to_minor = Calls(monkeypatch, money, "_scaled_integer")
    payload = (await client.data(CREATE_EVENT, {"input": one_tier(price)}, organizer.token))[
        "createEvent"
    ]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [
        ("VALIDATION", "ticketTypes.price")
    ]
    assert "too large" in payload["errors"][0]["message"]
    assert to_minor.count == (1 if price == "10000000000.01" else 0)
    assert await count(session, "events") == 0


@pytest.mark.parametrize("price", ["21474836.48", MAX_PRICE])
async def test_prices_beyond_32_bits_up_to_the_maximum_are_stored_and_totalled(
    client: GraphQLClient, session: AsyncSession, price: str
) -> None:
    """The money columns are BIGINT: the documented maximum, times a few seats, fits."""
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer, **one_tier(price))
    assert event["ticketTypes"][0]["price"]["amount"] == price
    variables = {
        "input": {
            "eventId": event["id"],
            "items": [{"ticketTypeId": tier_id(event, "Only"), "quantity": 3}],
        }
    }
    payload = (await client.data(RESERVE, variables, buyer.token))["reserveTickets"]
    assert payload["errors"] == []
    assert Decimal(payload["order"]["total"]["amount"]) == 3 * Decimal(price)
    stored = (await session.execute(text("SELECT total_minor FROM orders"))).scalar_one()
    await session.rollback()
    assert stored == 3 * int(Decimal(price) * 100)


def test_money_reads_the_size_from_the_exponent_before_scaling() -> None:
    """The service's own guard, for callers that do not come through the Decimal scalar."""
    for amount in ("1E+400000", "1E+999999", "-1E+400000"):
        with pytest.raises(money.ValidationFailed):
            money.to_minor(Decimal(amount), "USD")
    assert money.to_minor(Decimal("0E+400000"), "USD") == 0
    assert money.to_minor(Decimal(MAX_PRICE), "USD") == money.MAX_MINOR


# --- ids and cursors beyond the columns' range -------------------------------------------------


async def test_ids_beyond_32_bits_name_nothing(client: GraphQLClient) -> None:
    organizer = await client.register(organizer=True)
    for pk in (2**31, 99_999_999_999, 10**18):
        event_id = encode_id("Event", pk)
        found = await client.data(
            "query($id: ID!) { event(id: $id) { id } node(id: $id) { id } }", {"id": event_id}
        )
        assert found == {"event": None, "node": None}
        payload = (
            await client.data(UPDATE, {"id": event_id, "input": {"name": "X"}}, organizer.token)
        )["updateEvent"]
        assert [e["code"] for e in payload["errors"]] == ["NOT_FOUND"]


@pytest.mark.parametrize(
    "cursor",
    [
        encode_cursor("id", 2**31),
        encode_cursor("id", "9" * 5000),
        encode_cursor("ev", "2030-01-01T00:00:00+00:00", 99_999_999_999),
        encode_cursor("ev", "2030-01-01T00:00:00", 1),
        encode_cursor("ev", "0001-01-01T00:00:00+05:00", 1),
    ],
)
async def test_cursors_beyond_the_columns_range_are_bad_input(
    client: GraphQLClient, cursor: str
) -> None:
    customer = await client.register()
    document = "query($after: String) { %s(after: $after) { edges { cursor } } }"
    field = "events" if cursor.startswith(encode_cursor("ev")[:3]) else "myOrders"
    body = await client.execute(document % field, {"after": cursor}, customer.token)
    assert top_level_code(body) == "BAD_USER_INPUT"
    assert "cursor" in body["errors"][0]["message"]


# --- strings: no NUL anywhere, no longer than their column ---------------------------------


@pytest.mark.parametrize(
    "where",
    ["event name", "nested tier name", "promo code list", "literal", "login email", "search"],
)
async def test_a_nul_character_in_any_string_is_bad_input_and_nothing_is_written(
    client: GraphQLClient, session: AsyncSession, where: str
) -> None:
    organizer = await client.register(organizer=True)
    nul = "Gala\x00Night"
    promo = {"code": "NUL", "kind": "PERCENT", "value": "5", "ticketTypeNames": ["VIP", nul]}
    requests: dict[str, tuple[str, dict[str, Any]]] = {
        "event name": (CREATE_EVENT, {"input": conference_input(name=nul)}),
        "nested tier name": (
            CREATE_EVENT,
            {"input": one_tier("1") | {"ticketTypes": [{"name": nul, "price": "1", "limit": 1}]}},
        ),
        "promo code list": (CREATE_EVENT, {"input": conference_input(promoCodes=[promo])}),
        "literal": (
            'mutation { createEvent(input: { name: "Gala\\u0000Night", capacity: 5,'
            ' startsAt: "2031-01-01T18:00:00Z", ticketTypes: [{ name: "A", price: "1",'
            " limit: 5 }] }) { errors { code } } }",
            {},
        ),
        "login email": (
            'mutation($e: String!) { login(email: $e, password: "x") { errors { code } } }',
            {"e": "a\x00@example.com"},
        ),
        "search": ("query($s: String) { events(filter: {search: $s}) { totalCount } }", {"s": nul}),
    }
    document, variables = requests[where]
    audit_before = await count(session, "audit_entries")
    body = await client.execute(document, variables, organizer.token)
    assert top_level_code(body) == "BAD_USER_INPUT"
    assert "NUL" in body["errors"][0]["message"]
    assert await count(session, "events") == 0
    assert await count(session, "audit_entries") == audit_before


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"name": "n" * 201}, "name"),
        ({"venue": "v" * 301}, "venue"),
        ({"currency": "U" * 5000}, "currency"),
        ({"ticketTypes": [{"name": "t" * 101, "price": "1", "limit": 1}]}, "ticketTypes.name"),
        ({"promoCodes": [{"code": "C" * 65, "kind": "PERCENT", "value": "5"}]}, "promoCodes.code"),
    ],
)
async def test_strings_longer_than_their_column_are_refused_naming_the_field(
    client: GraphQLClient, session: AsyncSession, changes: dict[str, Any], field: str
) -> None:
    """PostgreSQL would refuse them deep in the write; they are refused first, by name."""
    organizer = await client.register(organizer=True)
    payload = (
        await client.data(CREATE_EVENT, {"input": conference_input(**changes)}, organizer.token)
    )["createEvent"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", field)]
    assert await count(session, "events") == 0


async def test_an_update_longer_than_the_column_is_refused_and_changes_nothing(
    client: GraphQLClient, session: AsyncSession
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer)
    payload = (
        await client.data(
            UPDATE, {"id": event["id"], "input": {"venue": "v" * 301}}, organizer.token
        )
    )["updateEvent"]
    assert [(e["code"], e["field"]) for e in payload["errors"]] == [("VALIDATION", "venue")]
    venue = (await session.execute(text("SELECT venue FROM events"))).scalar_one()
    await session.rollback()
    assert venue is None


# --- uploads --------------------------------------------------------------------------------


@pytest.mark.parametrize("how", ["literal", "variable"])
async def test_an_upload_that_is_not_a_file_part_is_bad_input(
    app: Any, client: GraphQLClient, session: AsyncSession, how: str
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, publish=False)
    if how == "literal":
        document = (
            'mutation($id: ID!) { uploadEventImage(eventId: $id, file: "x") { errors { code } } }'
        )
        variables: dict[str, Any] = {"id": event["id"]}
    else:
        document = """mutation($id: ID!, $file: Upload!) {
          uploadEventImage(eventId: $id, file: $file) { errors { code } } }"""
        variables = {"id": event["id"], "file": "x"}
    body = await client.execute(document, variables, organizer.token)
    assert top_level_code(body) == "BAD_USER_INPUT"
    assert "multipart" in body["errors"][0]["message"]
    image = (await session.execute(text("SELECT image_path FROM events"))).scalar_one()
    await session.rollback()
    assert image is None
    admin = await make_admin(app, client)
    assert admin.token  # the app still serves after the refusal
