"""GET /tickets/{ticketId}/qr: the ticket's QR code, for its buyer, organizer and admins only.

SVG by default, PNG with ?format=png; the PNG scans back to exactly the
ticket's qrToken. A strong ETag lets clients revalidate with If-None-Match.
Everyone else gets the same 404 as for a ticket that does not exist.
"""

from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from typing import Any

import httpx
import pytest
import zxingcpp
from PIL import Image

from eventhub.global_ids import encode_id
from tests.api.test_validate_ticket import assign_staff, open_door
from tests.support.factories import create_event
from tests.support.graphql import Account, GraphQLClient, make_admin

ORDER_TICKETS = "query($id: ID!) { order(id: $id) { tickets { id qrToken qrSvgUrl } } }"


async def get_qr(
    client: GraphQLClient,
    ticket_id: str,
    who: Account | None,
    fmt: str | None = None,
    etag: str | None = None,
) -> httpx.Response:
    headers = {"authorization": f"Bearer {who.token}"} if who else {}
    if etag:
        headers["if-none-match"] = etag
    params = {"format": fmt} if fmt else {}
    return await client.http.get(f"/tickets/{ticket_id}/qr", params=params, headers=headers)


def decode_png(content: bytes) -> list[str]:
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(content)))
    assert all(code.format == zxingcpp.BarcodeFormat.QRCode for code in found)
    return [code.text for code in found]


async def test_the_buyer_gets_an_svg_by_default_and_a_png_that_scans_to_the_token(
    client: GraphQLClient,
) -> None:
    door = await open_door(client)
    listed = (await client.data(ORDER_TICKETS, {"id": door.order["id"]}, door.buyer.token))[
        "order"
    ]["tickets"]
    assert [t["qrSvgUrl"] for t in listed] == [f"/tickets/{t}/qr" for t in door.ticket_ids]

    for ticket_id, token in zip(door.ticket_ids, door.tokens, strict=True):
        svg = await get_qr(client, ticket_id, door.buyer)
        assert svg.status_code == 200
        assert svg.headers["content-type"].startswith("image/svg+xml")
        root = ET.fromstring(svg.content)
        assert root.tag.endswith("svg")
        assert root.find("{http://www.w3.org/2000/svg}path") is not None

        png = await get_qr(client, ticket_id, door.buyer, "png")
        assert png.status_code == 200
        assert png.headers["content-type"] == "image/png"
        assert png.content.startswith(b"\x89PNG\r\n\x1a\n")
        assert decode_png(png.content) == [token]

    first, second = [(await get_qr(client, t, door.buyer)).content for t in door.ticket_ids]
    assert first != second


async def test_the_etag_answers_304_to_if_none_match(client: GraphQLClient) -> None:
    door = await open_door(client)
    ticket = door.ticket_ids[0]
    svg = await get_qr(client, ticket, door.buyer)
    png = await get_qr(client, ticket, door.buyer, "png")
    etag, png_etag = svg.headers["etag"], png.headers["etag"]
    assert re.fullmatch(r'"[^"]+"', etag)  # strong: no W/ prefix
    assert png_etag != etag

    again = await get_qr(client, ticket, door.buyer, etag=etag)
    assert (again.status_code, again.content, again.headers["etag"]) == (304, b"", etag)
    png_again = await get_qr(client, ticket, door.buyer, "png", etag=png_etag)
    assert (png_again.status_code, png_again.content) == (304, b"")
    assert (await get_qr(client, ticket, door.buyer, "png", etag=etag)).status_code == 200
    stale = await get_qr(client, ticket, door.buyer, etag='"not-the-current-one"')
    assert (stale.status_code, stale.content) == (200, svg.content)
    other_ticket = await get_qr(client, door.ticket_ids[1], door.buyer, etag=etag)
    assert other_ticket.status_code == 200


@pytest.mark.parametrize("who", ["buyer", "organizer", "admin"])
async def test_the_buyer_the_organizer_and_admins_get_the_code(
    app: Any, client: GraphQLClient, who: str
) -> None:
    door = await open_door(client)
    viewer = {
        "buyer": door.buyer,
        "organizer": door.organizer,
        "admin": await make_admin(app, client),
    }[who]
    png = await get_qr(client, door.ticket_ids[1], viewer, "png")
    assert png.status_code == 200
    assert decode_png(png.content) == [door.tokens[1]]


async def test_anyone_else_gets_the_same_404_as_for_no_ticket(client: GraphQLClient) -> None:
    door = await open_door(client)
    other_organizer = await client.register(organizer=True)
    other_event = await create_event(client, other_organizer, name="Theirs")
    other_staff = await client.register()
    await assign_staff(client, other_organizer, other_event, other_staff)
    others: dict[str, Account | None] = {
        "another customer": await client.register(),
        "another organizer": other_organizer,
        "the event's door staff": door.staff,
        "staff of another event": other_staff,
        "a bad bearer token": Account("-", "-", "not.a.jwt", "-", []),
        "anonymous": None,
    }
    etag = (await get_qr(client, door.ticket_ids[0], door.buyer)).headers["etag"]
    missing = await get_qr(client, encode_id("Ticket", 999_999), door.buyer)

    for who, viewer in others.items():
        for fmt in (None, "png"):
            answer = await get_qr(client, door.ticket_ids[0], viewer, fmt)
            assert (answer.status_code, answer.content) == (404, missing.content), who
            assert "etag" not in answer.headers, who
        revalidated = await get_qr(client, door.ticket_ids[0], viewer, etag=etag)
        assert revalidated.status_code == 404, who  # a known ETag does not bypass the check


@pytest.mark.parametrize(
    "ticket_id",
    [encode_id("Ticket", 999_999), "not-an-id", encode_id("Order", 1), encode_id("Ticket", 0)],
    ids=["unknown ticket", "malformed id", "another type's id", "ticket zero"],
)
async def test_a_ticket_that_does_not_exist_is_404(
    app: Any, client: GraphQLClient, ticket_id: str
) -> None:
    admin = await make_admin(app, client)
    await open_door(client)
    for fmt in (None, "png"):
        answer = await get_qr(client, ticket_id, admin, fmt)
        assert answer.status_code == 404
        assert "etag" not in answer.headers


async def test_an_unknown_format_is_refused(client: GraphQLClient) -> None:
    door = await open_door(client)
    answer = await get_qr(client, door.ticket_ids[0], door.buyer, "gif")
    assert answer.status_code == 400
