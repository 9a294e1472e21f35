"""`User.email` is personal data: null unless the viewer is that user, an admin, or the
organizer of an event the user bought (a PAID or REFUNDED order). An organizer's email
is never public. The rule lives in services/users.py and runs through one dataloader.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text

from eventhub.global_ids import decode_id
from tests.support import statements
from tests.support.factories import create_event, reserve
from tests.support.graphql import PASSWORD, Account, GraphQLClient, make_admin
from tests.support.statements import recorded_statements

quiet_app = statements.quiet_app

ORGANIZER_EMAIL = "query($id: ID!) { event(id: $id) { organizer { id email name } } }"
BUYER_EMAIL = "query($id: ID!) { order(id: $id) { buyer { id email } } }"


async def organizer_email(client: GraphQLClient, event: dict[str, Any], who: Account | None) -> Any:
    body = await client.data(ORGANIZER_EMAIL, {"id": event["id"]}, who.token if who else None)
    return body["event"]["organizer"]["email"]


async def buyer_email(client: GraphQLClient, order_id: str, who: Account) -> Any:
    order = (await client.data(BUYER_EMAIL, {"id": order_id}, who.token))["order"]
    return order["buyer"]["email"]


async def set_order_status(app: Any, order_id: str, status: str) -> None:
    async with app.state.eventhub.session_factory() as session:
        await session.execute(
            text("UPDATE orders SET status = :s WHERE id = :id"),
            {"s": status, "id": decode_id(order_id, "Order")},
        )
        await session.commit()


async def test_an_organizers_email_is_never_public(app: Any, client: GraphQLClient) -> None:
    organizer = await client.register(organizer=True)
    stranger, rival = await client.register(), await client.register(organizer=True)
    event = await create_event(client, organizer)
    assert await organizer_email(client, event, None) is None
    assert await organizer_email(client, event, stranger) is None
    assert await organizer_email(client, event, rival) is None
    # A buyer of the event does not learn it either; its organizer and admins do.
    assert (await reserve(client, stranger, event, {"Regular": 1}))["errors"] == []
    assert await organizer_email(client, event, stranger) is None
    assert await organizer_email(client, event, organizer) == organizer.email
    assert await organizer_email(client, event, await make_admin(app, client)) == organizer.email


async def test_an_organizer_sees_the_email_of_its_buyers_only_while_they_bought(
    app: Any, client: GraphQLClient
) -> None:
    organizer, other_organizer = (
        await client.register(organizer=True),
        await client.register(organizer=True),
    )
    buyer = await client.register()
    event = await create_event(client, organizer)
    other_event = await create_event(client, other_organizer)
    order = (await reserve(client, buyer, event, {"Regular": 1}))["order"]
    other_order = (await reserve(client, buyer, other_event, {"Regular": 1}))["order"]

    assert await buyer_email(client, order["id"], buyer) == buyer.email  # themself
    assert await buyer_email(client, order["id"], organizer) == buyer.email  # PAID
    await set_order_status(app, order["id"], "REFUNDED")
    assert await buyer_email(client, order["id"], organizer) == buyer.email
    # The other organizer's order is theirs: it shares nothing with this organizer.
    assert await buyer_email(client, other_order["id"], other_organizer) == buyer.email
    await set_order_status(app, other_order["id"], "EXPIRED")
    for status in ("PENDING", "EXPIRED", "CANCELLED"):
        await set_order_status(app, order["id"], status)
        assert await buyer_email(client, order["id"], organizer) is None, status


async def test_sign_in_payloads_and_me_show_the_accounts_own_email(client: GraphQLClient) -> None:
    login = """mutation($e: String!, $p: String!) { login(email: $e, password: $p) {
      user { email } errors { code } } }"""
    account = await client.register()

    payload = (await client.data(login, {"e": account.email, "p": PASSWORD}))["login"]
    assert payload["user"]["email"] == account.email
    assert (await client.data("{ me { email } }", token=account.token))["me"]["email"] == (
        account.email
    )


async def test_a_page_of_users_asks_for_email_visibility_once(
    quiet_app: tuple[Any, GraphQLClient],
) -> None:
    """Two organizers: `host` sold a ticket to `guest`, so host may read guest's email."""
    app, client = quiet_app
    host, guest, third = [await client.register(organizer=True) for _ in range(3)]
    hosted = await create_event(client, host)
    assert (await reserve(client, guest, hosted, {"Regular": 1}))["errors"] == []
    for organizer in (guest, third, host, guest, third):
        await create_event(client, organizer)
    names = "{ events(first: 100) { edges { node { organizer { id name } } } } }"
    emails = "{ events(first: 100) { edges { node { organizer { id name email } } } } }"

    with recorded_statements(app) as without:
        await client.data(names, token=host.token)
    with recorded_statements(app) as with_email:
        page = (await client.data(emails, token=host.token))["events"]["edges"]
    seen = {(e["node"]["organizer"]["id"], e["node"]["organizer"]["email"]) for e in page}
    assert seen == {(host.id, host.email), (guest.id, guest.email), (third.id, None)}
    # Emails add the viewer's roles and one batched visibility query, whatever the page size.
    assert len(with_email) == len(without) + 2, with_email
    assert sum("orders.buyer_id" in statement for statement in with_email) == 1
