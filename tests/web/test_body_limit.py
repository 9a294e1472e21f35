"""EVENTHUB_MAX_BODY_BYTES: oversized bodies are refused with 413 before they are read.

The middleware is driven with a hand-made `receive` that counts every body
byte it hands over, so the tests prove what a worker held, not how long it
took: a declared oversized length costs zero body bytes, a chunked one at most
the cap plus one chunk. Then the real app: every route (GraphQL, the Stripe
webhook) answers the contract's JSON error, and multipart uploads get the
upload cap.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from eventhub.web.app import create_app
from eventhub.web.body_limit import MULTIPART_OVERHEAD, BodyLimitMiddleware
from tests.conftest import make_settings

LIMIT = 64 * 1024
CHUNK = 16 * 1024
TWENTY_MB = 20 * 1024 * 1024


class Client:
    """A client sending `size` body bytes in `chunk`-sized messages, counting what was pulled."""

    def __init__(self, size: int, chunk: int = CHUNK) -> None:
        self.left, self.chunk = size, chunk
        self.bytes_pulled = 0
        self.receive_calls = 0

    async def receive(self) -> dict[str, Any]:
        self.receive_calls += 1
        part = min(self.chunk, self.left)
        self.left -= part
        self.bytes_pulled += part
        return {"type": "http.request", "body": b"x" * part, "more_body": self.left > 0}


class Responses:
    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    async def send(self, message: dict[str, Any]) -> None:
        self.messages.append(message)

    @property
    def status(self) -> int:
        return int(self.messages[0]["status"])

    def json(self) -> Any:
        return json.loads(b"".join(m.get("body", b"") for m in self.messages[1:]))


class ReadingApp:
    """Reads the whole body, as Starlette's `request.body()` does, then answers 200."""

    def __init__(self) -> None:
        self.calls = 0
        self.body_bytes = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        self.calls += 1
        more = True
        while more:
            message = await receive()
            self.body_bytes += len(message.get("body", b""))
            more = message.get("more_body", False)
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def http_scope(headers: dict[str, str]) -> dict[str, Any]:
    raw = [(k.encode(), v.encode()) for k, v in headers.items()]
    return {"type": "http", "method": "POST", "path": "/graphql", "headers": raw}


async def run(headers: dict[str, str], client: Client, upload_cap: int = LIMIT) -> tuple:
    app, responses = ReadingApp(), Responses()
    guarded = BodyLimitMiddleware(app, LIMIT, upload_cap, body_timeout=60)
    await guarded(http_scope(headers), client.receive, responses.send)
    return app, responses


def assert_payload_too_large(responses: Responses) -> None:
    assert responses.status == 413
    [error] = responses.json()["errors"]
    assert error["extensions"] == {"code": "PAYLOAD_TOO_LARGE", "maxBytes": LIMIT}


async def test_a_declared_length_over_the_cap_is_refused_without_reading_a_byte() -> None:
    client = Client(TWENTY_MB)
    app, responses = await run(
        {"content-type": "application/json", "content-length": str(TWENTY_MB)}, client
    )
    assert_payload_too_large(responses)
    assert (client.receive_calls, client.bytes_pulled, app.calls) == (0, 0, 0)


async def test_a_chunked_body_is_cut_off_one_chunk_past_the_cap() -> None:
    client = Client(TWENTY_MB)
    app, responses = await run({"content-type": "application/json"}, client)
    assert_payload_too_large(responses)
    # What the app (and the worker's memory) got: the cap plus the one chunk that crossed it.
    assert app.body_bytes <= LIMIT
    assert client.bytes_pulled <= LIMIT + CHUNK
    assert client.receive_calls == LIMIT // CHUNK + 1


@pytest.mark.parametrize("declared", [True, False])
async def test_a_body_at_the_cap_passes_whole(declared: bool) -> None:
    headers = {"content-type": "application/json"}
    if declared:
        headers["content-length"] = str(LIMIT)
    client = Client(LIMIT)
    app, responses = await run(headers, client)
    assert responses.status == 200
    assert app.body_bytes == LIMIT


async def test_a_multipart_upload_gets_the_upload_cap_and_no_more() -> None:
    upload_cap = 4 * LIMIT
    multipart = {"content-type": "multipart/form-data; boundary=x"}
    fits = upload_cap + MULTIPART_OVERHEAD
    app, responses = await run(multipart, Client(fits), upload_cap)
    assert (responses.status, app.body_bytes) == (200, fits)

    client = Client(TWENTY_MB)
    app, responses = await run(multipart, client, upload_cap)
    assert responses.status == 413
    assert client.bytes_pulled <= fits + CHUNK


async def test_a_body_that_stops_arriving_is_answered_408_at_the_deadline() -> None:
    """A client that sends its headers and then nothing: the request ends with 408, not never."""
    pulled = 0

    async def trickle() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        if pulled == 1:
            return {"type": "http.request", "body": b"{", "more_body": True}
        await asyncio.Event().wait()  # the rest never comes
        raise AssertionError("unreachable")

    app, responses = ReadingApp(), Responses()
    guarded = BodyLimitMiddleware(app, LIMIT, LIMIT, body_timeout=0.05)
    await asyncio.wait_for(guarded(http_scope(JSON), trickle, responses.send), 30)
    assert responses.status == 408
    assert responses.json()["errors"][0]["extensions"]["code"] == "REQUEST_TIMEOUT"
    assert (app.body_bytes, pulled) == (1, 2)


# --- the real app ----------------------------------------------------------------------------


def big_query(size: int) -> bytes:
    """A JSON GraphQL request of about `size` bytes (a long variable the document ignores).

    Not a long comment: the query text itself has its own, smaller cap
    (EVENTHUB_MAX_QUERY_LENGTH, tests/security/test_query_gate.py)."""
    return json.dumps({"query": "{ __typename }", "variables": {"pad": "x" * size}}).encode()


def chunks(body: bytes, size: int = CHUNK) -> Any:
    async def stream() -> Any:
        for start in range(0, len(body), size):
            yield body[start : start + size]

    return stream()


@pytest.fixture
async def stripe_app(database_url: str, tmp_path: Path) -> AsyncIterator[Any]:
    """The app with the Stripe provider, so that its webhook reads what it is sent."""
    settings = make_settings(
        database_url,
        tmp_path,
        payment_provider="stripe",
        stripe_secret_key="sk_test_body_limit",
        stripe_webhook_secret="whsec_body_limit",
    )
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.mark.parametrize("path", ["/graphql", "/webhooks/stripe"])
async def test_every_route_refuses_an_oversized_body_with_the_json_error(
    stripe_app: Any, path: str
) -> None:
    limit = stripe_app.state.eventhub.settings.max_body_bytes
    transport = httpx.ASGITransport(app=stripe_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        declared = await http.post(path, content=big_query(limit), headers=JSON)
        streamed = await http.post(path, content=chunks(big_query(limit)), headers=JSON)
    for response in (declared, streamed):
        assert response.status_code == 413, response.text
        assert response.headers["content-type"] == "application/json"
        [error] = response.json()["errors"]
        assert error["extensions"]["code"] == "PAYLOAD_TOO_LARGE"


async def test_a_body_under_the_cap_is_served(app: Any) -> None:
    limit = app.state.eventhub.settings.max_body_bytes
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post("/graphql", content=chunks(big_query(limit // 2)), headers=JSON)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"__typename": "Query"}}


async def test_a_multipart_request_past_the_body_cap_is_read_under_the_upload_cap(
    app: Any,
) -> None:
    """An image upload larger than EVENTHUB_MAX_BODY_BYTES reaches the resolver (which then
    refuses the anonymous caller), rather than a 413."""
    limit = app.state.eventhub.settings.max_body_bytes
    operations = {
        "query": 'mutation($f: Upload!) { uploadEventImage(eventId: "RXZlbnQ6MQ==", file: $f)'
        " { errors { code } } }",
        "variables": {"f": None},
    }
    files = {"0": ("big.png", b"\x89PNG" + b"0" * (2 * limit), "image/png")}
    data = {"operations": json.dumps(operations), "map": json.dumps({"0": ["variables.f"]})}
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        response = await http.post("/graphql", data=data, files=files)
    assert response.status_code != 413, response.text


JSON = {"content-type": "application/json"}
