"""Organizers manage events; everyone browses the published ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.support.factories import (
    CREATE_EVENT,
    EVENT_FIELDS,
    PUBLISH,
    conference_input,
    create_event,
    reserve,
)
from tests.support.graphql import GraphQLClient, make_admin

ERRORS = "errors { code message field }"
UPDATE = f"""mutation($id: ID!, $input: UpdateEventInput!) {{
  updateEvent(id: $id, input: $input) {{ event {{ {EVENT_FIELDS} }} {ERRORS} }} }}"""
DELETE = f"mutation($id: ID!) {{ deleteEvent(id: $id) {{ deletedId {ERRORS} }} }}"
ADD_TIER = f"""mutation($id: ID!, $input: TicketTypeInput!) {{
  addTicketType(eventId: $id, input: $input) {{ event {{ {EVENT_FIELDS} }} {ERRORS} }} }}"""
ADD_PROMO = f"""mutation($id: ID!, $input: PromoCodeInput!) {{
  addPromoCode(eventId: $id, input: $input) {{ event {{ id }} {ERRORS} }} }}"""
ASSIGN = f"""mutation($id: ID!, $email: String!) {{
  assignStaff(eventId: $id, email: $email) {{ user {{ id roles }} {ERRORS} }} }}"""
MY_EVENTS = "{ myEvents { totalCount edges { node { id status } } } }"
AUDIT = """query($action: String) { auditLog(action: $action) {
  totalCount edges { node { action targetType actor { id } } } } }"""
TIER = {"name": "Student", "price": "49.50", "limit": 20}
PROMO = {"code": "spring", "kind": "FIXED", "value": "10", "ticketTypeNames": ["Regular"]}


async def call(client: GraphQLClient, query: str, token: str | None, **variables: Any) -> Any:
    """The value of the operation's one root field (no top-level errors allowed)."""
    [value] = (await client.data(query, variables, token)).values()
    return value


def errors(payload: dict[str, Any]) -> list[tuple[str, str | None]]:
    return [(e["code"], e["field"]) for e in payload["errors"]]


def top_level_code(body: dict[str, Any]) -> str:
    assert body.get("errors"), body
    code: str = body["errors"][0]["extensions"]["code"]
    return code


async def test_the_seed_example_is_created_as_a_draft_and_sells_with_its_promo_code(
    client: GraphQLClient,
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer, publish=False)
    assert event["status"] == "DRAFT"
    assert (event["capacity"], event["sold"], event["remaining"]) == (500, 0, 450)
    assert [(t["name"], t["price"], t["limit"]) for t in event["ticketTypes"]] == [
        ("Early Bird", {"amount": "299.00", "currency": "USD"}, 100),
        ("Regular", {"amount": "399.00", "currency": "USD"}, 300),
        ("VIP", {"amount": "599.00", "currency": "USD"}, 50),
    ]
    draft = await reserve(client, buyer, event, {"VIP": 1})
    assert errors(draft) == [("NOT_FOUND", "eventId")]  # a draft is not on sale

    published = await call(client, PUBLISH, organizer.token, id=event["id"])
    assert published["event"]["status"] == "PUBLISHED"
    order = (await reserve(client, buyer, event, {"Early Bird": 1}, promoCode="early25"))["order"]
    assert (order["discount"]["amount"], order["total"]["amount"]) == ("74.75", "224.25")


def tiers(*specs: tuple[str, str, int]) -> dict[str, Any]:
    return {"ticketTypes": [{"name": n, "price": p, "limit": lim} for n, p, lim in specs]}


def codes(*specs: tuple[str, str, str]) -> dict[str, Any]:
    return {"promoCodes": [{"code": c, "kind": k, "value": v} for c, k, v in specs]}


INVALID_INPUTS = {
    "capacity below 1": ({"capacity": 0}, "capacity"),
    "fair-share cap of 0": ({"maxPerCustomer": 0}, "maxPerCustomer"),
    "negative tier limit": (tiers(("A", "1.00", -1)), "ticketTypes.limit"),
    "negative price": (tiers(("A", "-1.00", 5)), "ticketTypes.price"),
    "three decimals in USD": (tiers(("A", "1.001", 5)), "ticketTypes.price"),
    "decimals in JPY": ({**tiers(("A", "1.5", 5)), "currency": "JPY"}, "ticketTypes.price"),
    "unknown currency": ({"currency": "XYZ"}, "currency"),
    "ends before it starts": ({"endsAt": "2020-01-01T00:00:00+00:00"}, "endsAt"),
    "duplicate tier names": (tiers(("VIP", "1", 5), ("vip", "2", 5)), "ticketTypes.name"),
    "duplicate promo codes": (
        codes(("EARLY25", "PERCENT", "25"), ("early25", "PERCENT", "20")),
        "promoCodes.code",
    ),
    "percent above 100": (codes(("MUCH", "PERCENT", "100.01")), "promoCodes.value"),
    "fixed above a tier price": (codes(("BIG", "FIXED", "299.01")), "promoCodes.value"),
}


@pytest.mark.parametrize(("overrides", "field"), INVALID_INPUTS.values(), ids=INVALID_INPUTS)
async def test_invalid_event_is_refused_with_the_field_and_nothing_is_stored(
    client: GraphQLClient, overrides: dict[str, Any], field: str
) -> None:
    organizer = await client.register(organizer=True)
    payload = await call(client, CREATE_EVENT, organizer.token, input=conference_input(**overrides))
    assert payload["event"] is None
    assert errors(payload) == [("VALIDATION", field)]
    assert (await call(client, MY_EVENTS, organizer.token))["totalCount"] == 0


async def test_capacity_can_shrink_to_what_is_sold_but_not_below(client: GraphQLClient) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    await reserve(client, buyer, event, {"Regular": 3})

    too_small = await call(client, UPDATE, organizer.token, id=event["id"], input={"capacity": 2})
    assert errors(too_small) == [("VALIDATION", "capacity")]

    changes = {"capacity": 3, "name": "PyCon Renamed"}
    done = (await call(client, UPDATE, organizer.token, id=event["id"], input=changes))["event"]
    assert (done["name"], done["capacity"], done["sold"], done["remaining"]) == (
        "PyCon Renamed",
        3,
        3,
        0,
    )


async def test_delete_works_only_while_nothing_was_ever_ordered(client: GraphQLClient) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    empty = await create_event(client, organizer, publish=False)
    deleted = await call(client, DELETE, organizer.token, id=empty["id"])
    assert deleted == {"deletedId": empty["id"], "errors": []}
    assert (await call(client, MY_EVENTS, organizer.token))["totalCount"] == 0

    sold = await create_event(client, organizer)
    order = (await reserve(client, buyer, sold, {"VIP": 1}))["order"]
    cancel = "mutation($id: ID!) { cancelOrder(id: $id) { errors { code } } }"
    await call(client, cancel, buyer.token, id=order["id"])  # refunded: the seat is back
    refused = await call(client, DELETE, organizer.token, id=sold["id"])
    assert (refused["deletedId"], errors(refused)) == (None, [("CONFLICT", "id")])


async def test_organizer_adds_a_tier_and_a_promo_code_but_no_duplicates(
    client: GraphQLClient,
) -> None:
    organizer, buyer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    added = await call(client, ADD_TIER, organizer.token, id=event["id"], input=TIER)
    tiers = added["event"]["ticketTypes"]
    assert [t["name"] for t in tiers] == ["Early Bird", "Regular", "VIP", "Student"]
    again = await call(
        client, ADD_TIER, organizer.token, id=event["id"], input={**TIER, "name": "STUDENT"}
    )
    assert errors(again) == [("VALIDATION", "input.name")]

    assert errors(await call(client, ADD_PROMO, organizer.token, id=event["id"], input=PROMO)) == []
    twice = await call(
        client, ADD_PROMO, organizer.token, id=event["id"], input={**PROMO, "code": "SPRING"}
    )
    assert errors(twice) == [("VALIDATION", "input.code")]
    event["ticketTypes"] = tiers
    order = (await reserve(client, buyer, event, {"Regular": 1, "Student": 1}, promoCode="Spring"))[
        "order"
    ]
    assert (order["discount"]["amount"], order["total"]["amount"]) == ("10.00", "438.50")


async def test_assigning_staff_gives_the_staff_role(client: GraphQLClient) -> None:
    organizer, helper = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    assigned = await call(client, ASSIGN, organizer.token, id=event["id"], email=helper.email)
    assert assigned == {"user": None, "errors": []}  # as for an unknown email (tests/security)
    me = (await client.data("{ me { roles } }", token=helper.token))["me"]
    assert set(me["roles"]) == {"CUSTOMER", "STAFF"}


async def test_another_organizer_is_refused_and_the_attempt_is_audited(
    app: Any, client: GraphQLClient
) -> None:
    owner, intruder = await client.register(organizer=True), await client.register(organizer=True)
    event = await create_event(client, owner)
    attempts = [
        (UPDATE, {"id": event["id"], "input": {"capacity": 1}}),
        ("mutation($id: ID!) { publishEvent(id: $id) { errors { code } } }", {"id": event["id"]}),
        ("mutation($id: ID!) { cancelEvent(id: $id) { errors { code } } }", {"id": event["id"]}),
        (DELETE, {"id": event["id"]}),
        (ADD_TIER, {"id": event["id"], "input": TIER}),
        (ADD_PROMO, {"id": event["id"], "input": PROMO}),
        (ASSIGN, {"id": event["id"], "email": intruder.email}),
    ]
    for query, variables in attempts:
        assert top_level_code(await client.execute(query, variables, intruder.token)) == "FORBIDDEN"

    admin = await make_admin(app, client)
    log = await call(client, AUDIT, admin.token, action="event.access_denied")
    assert log["totalCount"] == len(attempts)
    assert {e["node"]["actor"]["id"] for e in log["edges"]} == {intruder.id}
    query = "query($id: ID!) { event(id: $id) { status capacity ticketTypes { name } } }"
    seen = await call(client, query, None, id=event["id"])
    assert (seen["status"], seen["capacity"], len(seen["ticketTypes"])) == ("PUBLISHED", 500, 3)
    renamed = await call(client, UPDATE, admin.token, id=event["id"], input={"name": "By Admin"})
    assert renamed["event"]["name"] == "By Admin"  # admins manage every event


async def test_an_unknown_event_is_a_not_found_payload_error(client: GraphQLClient) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer, publish=False)
    await client.data(DELETE, {"id": event["id"]}, organizer.token)
    gone = await call(client, UPDATE, organizer.token, id=event["id"], input={"name": "x"})
    assert errors(gone) == [("NOT_FOUND", "id")]


async def test_a_customer_may_not_use_organizer_mutations(client: GraphQLClient) -> None:
    organizer, customer = await client.register(organizer=True), await client.register()
    event = await create_event(client, organizer)
    create = await client.execute(CREATE_EVENT, {"input": conference_input()}, customer.token)
    assert top_level_code(create) == "FORBIDDEN"
    for query, variables in [
        (UPDATE, {"id": event["id"], "input": {"name": "mine"}}),
        (ADD_TIER, {"id": event["id"], "input": TIER}),
        (DELETE, {"id": event["id"]}),
    ]:
        assert top_level_code(await client.execute(query, variables, customer.token)) == "FORBIDDEN"
    anonymous = await client.execute(CREATE_EVENT, {"input": conference_input()})
    assert top_level_code(anonymous) == "UNAUTHENTICATED"


def in_days(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


def dated(name: str, days: float, **extra: Any) -> dict[str, Any]:
    return {"name": name, "startsAt": in_days(days), "endsAt": in_days(days + 1), **extra}


BROWSE = """query($first: Int, $after: String, $filter: EventFilter) {
  events(first: $first, after: $after, filter: $filter) {
    totalCount pageInfo { hasNextPage endCursor } edges { cursor node { name } } } }"""


async def browse(client: GraphQLClient, **variables: Any) -> dict[str, Any]:
    result: dict[str, Any] = await call(client, BROWSE, None, **variables)
    return result


def names(connection: dict[str, Any]) -> list[str]:
    return [edge["node"]["name"] for edge in connection["edges"]]


async def test_browsing_shows_published_upcoming_events_soonest_first(
    client: GraphQLClient,
) -> None:
    alice, bob = await client.register(organizer=True), await client.register(organizer=True)
    await create_event(client, alice, **dated("Late Jazz", 60, venue="Blue Note"))
    await create_event(client, bob, **dated("Early Rust", 10))
    await create_event(client, alice, **dated("Mid Python", 30, description="snakes"))
    await create_event(client, bob, publish=False, **dated("Secret Draft", 5))
    await create_event(client, bob, **dated("Yesterday", -2))  # ended: no longer listed

    assert names(await browse(client)) == ["Early Rust", "Mid Python", "Late Jazz"]
    assert names(await browse(client, filter={"search": "BLUE note"})) == ["Late Jazz"]
    assert names(await browse(client, filter={"search": "snake"})) == ["Mid Python"]
    assert names(await browse(client, filter={"search": "%"})) == []  # a literal, not a wildcard
    window = {"startsAfter": in_days(20), "startsBefore": in_days(45)}
    assert names(await browse(client, filter=window)) == ["Mid Python"]

    first_page = await browse(client, first=2)
    assert (names(first_page), first_page["totalCount"]) == (["Early Rust", "Mid Python"], 3)
    assert first_page["pageInfo"]["hasNextPage"] is True
    rest = await browse(client, first=2, after=first_page["pageInfo"]["endCursor"])
    assert names(rest) == ["Late Jazz"]
    assert rest["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("page", [{"first": 0}, {"first": 101}, {"after": "not-a-cursor"}])
async def test_a_bad_page_request_is_bad_user_input(
    client: GraphQLClient, page: dict[str, Any]
) -> None:
    assert top_level_code(await client.execute(BROWSE, page)) == "BAD_USER_INPUT"


async def test_drafts_are_visible_only_to_their_organizer_and_admins(
    app: Any, client: GraphQLClient
) -> None:
    owner, other = await client.register(organizer=True), await client.register(organizer=True)
    admin = await make_admin(app, client)
    draft = await create_event(client, owner, publish=False)
    await create_event(client, other)
    query = "query($id: ID!) { event(id: $id) { id status } node(id: $id) { id } }"
    for viewer in (None, other.token):
        hidden = await client.data(query, {"id": draft["id"]}, viewer)
        assert hidden == {"event": None, "node": None}
    for viewer in (owner.token, admin.token):
        seen = await client.data(query, {"id": draft["id"]}, viewer)
        assert seen["event"] == {"id": draft["id"], "status": "DRAFT"}
        assert seen["node"] == {"id": draft["id"]}
    mine = await call(client, MY_EVENTS, owner.token)
    assert [e["node"]["id"] for e in mine["edges"]] == [draft["id"]]


async def test_a_ticket_type_can_be_refetched_by_its_node_id(client: GraphQLClient) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer)
    vip = next(t for t in event["ticketTypes"] if t["name"] == "VIP")
    query = "query($id: ID!) { node(id: $id) { id ... on TicketType { name } } }"
    assert await call(client, query, None, id=vip["id"]) == {"id": vip["id"], "name": "VIP"}


NAIVE = "2030-01-01T00:00:00"  # no offset: the contract's DateTime always carries one
NAIVE_INPUTS = {
    "createEvent": (CREATE_EVENT, lambda _: {"input": conference_input(startsAt=NAIVE)}),
    "updateEvent": (UPDATE, lambda event: {"id": event["id"], "input": {"endsAt": NAIVE}}),
    "addTicketType": (ADD_TIER, lambda e: {"id": e["id"], "input": {**TIER, "salesEndAt": NAIVE}}),
    "events filter": (BROWSE, lambda _: {"filter": {"startsAfter": NAIVE}}),
}


@pytest.mark.parametrize(("query", "variables"), NAIVE_INPUTS.values(), ids=NAIVE_INPUTS)
async def test_a_datetime_without_offset_is_refused_not_a_server_error(
    client: GraphQLClient, query: str, variables: Any
) -> None:
    organizer = await client.register(organizer=True)
    event = await create_event(client, organizer)
    body = await client.execute(query, variables(event), organizer.token)
    if body.get("errors"):
        assert top_level_code(body) == "BAD_USER_INPUT"
    else:
        [payload] = body["data"].values()
        assert [code for code, _ in errors(payload)] == ["VALIDATION"]
