"""A small fake of the Stripe API on a real socket, for the official SDK to talk to.

It keeps PaymentIntents, their charge and refunds, and behaves as Stripe's v1 API
does where EventHub depends on it: a repeated Idempotency-Key replays the stored
answer (with other parameters it is a 400 `idempotency_error`); a refund never
exceeds the charge (`charge_already_refunded`); a succeeded intent cannot be
cancelled; ISK amounts are two-decimal and must be multiples of 100.

Tests steer it: `fail` makes the next calls to an endpoint answer a card decline,
a 429 or a 500, `delay` slows them, `hang` leaves them unanswered, `drop` does
their work and then closes the connection without an answer (a lost response:
a retry with the same Idempotency-Key gets the stored answer, as on Stripe),
`stop`/`start` make it unreachable; `succeed`, `decline`, `cancel_outside`,
`update_outside` and `refund_outside` are what the buyer's browser, the Dashboard
or another holder of the secret key do; `event` and `deliver` build and post the
signed webhooks Stripe would send. Every request is recorded in `requests`.
"""

from __future__ import annotations

import asyncio
import copy
import hashlib
import hmac
import json
import re
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from eventhub.settings import Settings

SECRET_KEY = "sk_test_x"
WEBHOOK_SECRET = "whsec_test"
API_VERSION = "2026-10-28.endive"  # what stripe 16.1 sends as Stripe-Version
CANCELABLE = ("requires_payment_method", "requires_confirmation", "requires_action", "processing")
UPDATABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
Reply = tuple[int, dict[str, Any]]


class StripeError(Exception):
    """An answer in Stripe's error shape: {"error": {"type", "code", "message"}}."""

    def __init__(self, status: int, kind: str, code: str | None, message: str) -> None:
        error = {"type": kind, "message": message} | ({"code": code} if code else {})
        self.reply: Reply = (status, {"error": error})


def invalid(code: str | None, message: str, status: int = 400) -> StripeError:
    return StripeError(status, "invalid_request_error", code, message)


FAILURES = {
    "card_declined": StripeError(402, "card_error", "card_declined", "Your card was declined."),
    "rate_limit": invalid("rate_limit", "Too many requests hit the API too quickly.", 429),
    "server_error": StripeError(500, "api_error", None, "Something went wrong on our end."),
}


@dataclass
class Recorded:
    endpoint: str
    params: dict[str, Any]
    idempotency_key: str | None
    status: int = 0
    replayed: bool = False


@dataclass
class Failure:
    kind: str
    remaining: int | None  # None: every call until `clear_failures`
    stored: bool  # Stripe saved this answer under the request's idempotency key


@dataclass
class FakeStripe:
    intents: dict[str, dict[str, Any]] = field(default_factory=dict)
    charges: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: list[dict[str, Any]] = field(default_factory=list)
    requests: list[Recorded] = field(default_factory=list)
    port: int = 0
    _stored: dict[str, tuple[str, dict[str, Any], Reply]] = field(default_factory=dict)
    _failures: dict[str, list[Failure]] = field(default_factory=dict)
    _delays: dict[str, float] = field(default_factory=dict)
    _hanging: set[str] = field(default_factory=set)
    _drops: dict[str, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    # --- the server -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Serve on 127.0.0.1 (on the same port again after `stop`); returns once listening."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        config = uvicorn.Config(self.asgi(), log_level="warning", lifespan="off")
        server = self._server = uvicorn.Server(config)
        thread = self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True
        )
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the fake Stripe did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop answering: the SDK gets connection errors until `start`."""
        self._hanging.clear()  # let hung requests end, so the server can shut down
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None

    def settings(self, database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
        """EventHub settings with the stripe provider pointed at this fake."""
        from tests.conftest import make_settings

        stripe = {"stripe_secret_key": SECRET_KEY, "stripe_webhook_secret": WEBHOOK_SECRET}
        stripe |= {"payment_provider": "stripe", "stripe_api_base": self.url}
        return make_settings(database_url, tmp_path, **stripe, **overrides)

    # --- steering -------------------------------------------------------------------------

    def fail(self, endpoint: str, kind: str, times: int | None = 1, stored: bool = False) -> None:
        """The next `times` calls to `endpoint` (None: all until cleared) answer `kind`.
        `stored`: Stripe saved that answer, so a retry with the same key gets it again
        (a decline always is; a 500 may be, as Stripe documents)."""
        keep = stored or kind == "card_declined"
        self._failures.setdefault(endpoint, []).append(Failure(kind, times, keep))

    def delay(self, endpoint: str, seconds: float) -> None:
        """Answer `endpoint` only after `seconds` (the work itself is done at once)."""
        self._delays[endpoint] = seconds

    def hang(self, endpoint: str) -> None:
        """Calls to `endpoint` are received (and recorded) but never answered, as when Stripe
        or the network in between stalls; `clear_failures` or `stop` ends it."""
        self._hanging.add(endpoint)

    def drop(self, endpoint: str, times: int = 1) -> None:
        """The next `times` calls to `endpoint` are carried out, then their connection is
        closed before the answer is sent."""
        self._drops[endpoint] = times

    def clear_failures(self) -> None:
        self._failures.clear()
        self._hanging.clear()
        self._drops.clear()

    def calls(self, endpoint: str) -> list[Recorded]:
        return [r for r in self.requests if r.endpoint == endpoint]

    def refunds_of(self, intent_id: str) -> list[dict[str, Any]]:
        return [r for r in self.refunds if r["payment_intent"] == intent_id]

    def succeed(self, intent_id: str) -> dict[str, Any]:
        """The buyer's card went through: the intent succeeds with one charge."""
        with self._lock:
            intent = self.intents[intent_id]
            charge = _new_id("ch")
            refunds = {"object": "list", "data": [], "has_more": False}
            self.charges[charge] = {
                "id": charge, "object": "charge", "amount": intent["amount"],
                "amount_refunded": 0, "currency": intent["currency"], "refunded": False,
                "status": "succeeded", "payment_intent": intent_id, "refunds": refunds,
            }  # fmt: skip
            intent.update(status="succeeded", amount_received=intent["amount"])
            intent.update(latest_charge=charge, last_payment_error=None)
            return copy.deepcopy(intent)

    def decline(self, intent_id: str) -> None:
        """A payment attempt failed; as on Stripe, the intent may be tried again."""
        error = FAILURES["card_declined"].reply[1]["error"]
        with self._lock:
            self.intents[intent_id].update(
                status="requires_payment_method", last_payment_error=error
            )

    def cancel_outside(self, intent_id: str) -> None:
        """Cancelled in the Dashboard (or abandoned), not through our API."""
        with self._lock:
            self.intents[intent_id].update(status="canceled", cancellation_reason="abandoned")

    def update_outside(
        self, intent_id: str, amount: int | None = None, currency: str | None = None
    ) -> None:
        """The amount or currency changed by someone else holding the key (or the Dashboard),
        as Stripe allows until the intent is paid or cancelled."""
        with self._lock:
            intent = self.intents[intent_id]
            if intent["status"] not in UPDATABLE:
                message = f"You cannot update this PaymentIntent: its status is {intent['status']}."
                raise invalid("payment_intent_unexpected_state", message)
            intent.update(amount=intent["amount"] if amount is None else amount)
            intent.update(currency=intent["currency"] if currency is None else currency.lower())

    def refund_outside(self, intent_id: str, amount: int | None = None) -> dict[str, Any]:
        """A refund made in the Dashboard: in full unless `amount` is given."""
        params = {"payment_intent": intent_id} | ({"amount": str(amount)} if amount else {})
        with self._lock:
            return self._refund(params)[1]

    # --- webhooks -------------------------------------------------------------------------

    def event(self, kind: str, intent_id: str, *, include_refunds: bool = True) -> dict[str, Any]:
        """The event Stripe would send now: a snapshot of the intent, or of its charge."""
        with self._lock:
            obj = copy.deepcopy(self.intents[intent_id])
            if kind.startswith("charge."):
                obj = copy.deepcopy(self.charges[obj["latest_charge"]])
                if not include_refunds:  # API versions since 2022-11-15 leave the list out
                    del obj["refunds"]
        return {
            "id": _new_id("evt"), "object": "event", "type": kind, "api_version": API_VERSION,
            "created": int(time.time()), "data": {"object": obj}, "livemode": False,
            "pending_webhooks": 1, "request": {"id": None, "idempotency_key": None},
        }  # fmt: skip

    async def pay(self, http: httpx.AsyncClient, intent_id: str) -> httpx.Response:
        """The buyer's card goes through and Stripe sends payment_intent.succeeded."""
        self.succeed(intent_id)
        return await deliver(http, self.event("payment_intent.succeeded", intent_id))

    # --- the API --------------------------------------------------------------------------

    def asgi(self) -> Starlette:
        def route(path: str, endpoint: str, method: str) -> Route:
            async def handle(request: Request) -> Response:
                return await self._handle(endpoint, request)

            return Route(path, handle, methods=[method])

        return Starlette(
            routes=[
                route("/v1/payment_intents", "create_intent", "POST"),
                route("/v1/payment_intents/{id}", "retrieve_intent", "GET"),
                route("/v1/payment_intents/{id}/cancel", "cancel_intent", "POST"),
                route("/v1/refunds", "create_refund", "POST"),
                route("/v1/refunds", "list_refunds", "GET"),
                *(route("/{path:path}", "unknown", method) for method in ("GET", "POST")),
            ]
        )

    async def _handle(self, endpoint: str, request: Request) -> Response:
        if endpoint in self._hanging:
            return await self._hang(endpoint, request)
        body = (await request.body()).decode()
        params = _nested(body if request.method == "POST" else request.url.query)
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        record = Recorded(endpoint, params, key)
        with self._lock:
            self.requests.append(record)
            status, answer = self._answer(endpoint, request, params, key, record)
            dropped = self._drops.get(endpoint, 0) > 0
            if dropped:
                self._drops[endpoint] -= 1
        record.status = status
        await asyncio.sleep(self._delays.get(endpoint, 0))
        if dropped:
            return _Dropped()
        headers = {"request-id": _new_id("req"), "stripe-version": API_VERSION}
        if record.replayed:
            headers["idempotent-replayed"] = "true"
        return JSONResponse(answer, status_code=status, headers=headers)

    async def _hang(self, endpoint: str, request: Request) -> JSONResponse:
        """Record the attempt, then say nothing until released (the client gave up long ago)."""
        key = request.headers.get("idempotency-key") if request.method == "POST" else None
        with self._lock:
            self.requests.append(Recorded(endpoint, {}, key))
        # Polled: the test's thread ends the hang, and asyncio.Event is not thread-safe.
        while endpoint in self._hanging:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        return JSONResponse(FAILURES["server_error"].reply[1], status_code=500)

    def _answer(
        self,
        endpoint: str,
        request: Request,
        params: dict[str, Any],
        key: str | None,
        record: Recorded,
    ) -> Reply:
        if request.headers.get("authorization") != f"Bearer {SECRET_KEY}":
            return invalid(None, "Invalid API Key provided", 401).reply
        request_line = f"{request.method} {request.url.path}"
        if key is not None and key in self._stored:
            first_line, first_params, reply = self._stored[key]
            if (first_line, first_params) != (request_line, params):
                message = f"Key {key} was first used with other parameters."
                return StripeError(400, "idempotency_error", None, message).reply
            record.replayed = True
            return reply
        failure = self._next_failure(endpoint)
        if failure is not None:
            reply = FAILURES[failure.kind].reply
        else:
            try:
                reply = self._execute(endpoint, request.path_params.get("id", ""), params)
            except StripeError as error:
                reply = error.reply
        if key is not None and (failure is None or failure.stored):
            self._stored[key] = (request_line, params, copy.deepcopy(reply))
        return reply

    def _next_failure(self, endpoint: str) -> Failure | None:
        queue = self._failures.get(endpoint) or [None]
        failure = queue[0]
        if failure is not None and failure.remaining is not None:
            failure.remaining -= 1
            if failure.remaining <= 0:
                queue.pop(0)
        return failure

    def _execute(self, endpoint: str, object_id: str, params: dict[str, Any]) -> Reply:
        if endpoint == "create_intent":
            return self._create_intent(params)
        if endpoint == "create_refund":
            return self._refund(params)
        if endpoint == "list_refunds":
            return self._list_refunds(params)
        if endpoint == "unknown":
            raise invalid(None, "Unrecognized request URL.", 404)
        intent = self._intent(object_id)
        if endpoint == "cancel_intent":
            if intent["status"] not in CANCELABLE:
                message = f"You cannot cancel this PaymentIntent: its status is {intent['status']}."
                raise invalid("payment_intent_unexpected_state", message)
            reason = params.get("cancellation_reason", "requested_by_customer")
            intent.update(status="canceled", cancellation_reason=reason)
        answer = copy.deepcopy(intent)
        expand = set((params.get("expand") or {}).values())
        if expand & {"latest_charge", "latest_charge.refunds"} and answer["latest_charge"]:
            charge = answer["latest_charge"] = copy.deepcopy(self.charges[answer["latest_charge"]])
            if "latest_charge.refunds" not in expand:  # left out since API version 2022-11-15
                del charge["refunds"]
        return 200, answer

    def _list_refunds(self, params: dict[str, Any]) -> Reply:
        """GET /v1/refunds?payment_intent=…: newest first, as Stripe lists them."""
        intent = params.get("payment_intent")
        if intent is not None:
            self._intent(str(intent))
        found = [
            r for r in reversed(self.refunds) if intent is None or r["payment_intent"] == intent
        ]
        limit = int(params.get("limit", 10))
        page = {"object": "list", "url": "/v1/refunds", "has_more": len(found) > limit}
        return 200, page | {"data": copy.deepcopy(found[:limit])}

    def _create_intent(self, params: dict[str, Any]) -> Reply:
        amount, currency = int(params.get("amount", 0)), str(params.get("currency", ""))
        if currency == "isk" and amount % 100:
            message = "Currency ISK has become effectively zero-decimal: divisible by 100."
            raise invalid("invalid_charge_amount_no_decimal_compatible", message)
        intent_id = _new_id("pi")
        self.intents[intent_id] = {
            "id": intent_id, "object": "payment_intent", "amount": amount, "currency": currency,
            "amount_received": 0, "metadata": dict(params.get("metadata") or {}),
            "client_secret": f"{intent_id}_secret_{secrets.token_hex(12)}",
            "status": "requires_payment_method", "latest_charge": None,
            "automatic_payment_methods": params.get("automatic_payment_methods"),
            "cancellation_reason": None, "last_payment_error": None,
        }  # fmt: skip
        return 200, copy.deepcopy(self.intents[intent_id])

    def _refund(self, params: dict[str, Any]) -> Reply:
        intent = self._intent(str(params.get("payment_intent", "")))
        charge = self.charges.get(intent["latest_charge"] or "")
        if intent["status"] != "succeeded" or charge is None:
            raise invalid(None, f"PaymentIntent {intent['id']} has no successful charge to refund.")
        left = charge["amount"] - charge["amount_refunded"]
        amount = int(params.get("amount", left))
        if left == 0:
            raise invalid("charge_already_refunded", f"Charge {charge['id']} is already refunded.")
        if amount > left:
            raise invalid("amount_too_large", "Refund amount is greater than what is left.")
        refund = {
            "id": _new_id("re"), "object": "refund", "amount": amount, "charge": charge["id"],
            "currency": charge["currency"], "payment_intent": intent["id"], "status": "succeeded",
        }  # fmt: skip
        self.refunds.append(refund)
        charge["amount_refunded"] += amount
        charge["refunded"] = charge["amount_refunded"] == charge["amount"]
        charge["refunds"]["data"].insert(0, copy.deepcopy(refund))
        return 200, copy.deepcopy(refund)

    def _intent(self, intent_id: str) -> dict[str, Any]:
        if intent_id not in self.intents:
            raise invalid("resource_missing", f"No such payment_intent: '{intent_id}'", 404)
        return self.intents[intent_id]


class _Dropped(Response):
    """Starts an answer and breaks off: the client sees the connection close mid-response."""

    def __init__(self) -> None:
        super().__init__(status_code=200)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        start = {"type": "http.response.start", "status": 200}
        await send(start | {"headers": [(b"content-length", b"4096")]})
        raise ConnectionAbortedError("the fake Stripe dropped this response on purpose")


def intent_id(client_secret: str) -> str:
    """The PaymentIntent a client secret belongs to (Stripe's `pi_…_secret_…` format)."""
    return client_secret.split("_secret_")[0]


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


def _nested(form: str) -> dict[str, Any]:
    """Stripe's bracket form encoding: `metadata[order_id]=5` -> {"metadata": {"order_id": "5"}}."""
    out: dict[str, Any] = {}
    for key, value in parse_qsl(form, keep_blank_values=True):
        *path, last = re.findall(r"[^\[\]]+", key)
        node = out
        for part in path:
            node = node.setdefault(part, {})
        node[last] = value
    return out


def sign(payload: str, secret: str = WEBHOOK_SECRET, timestamp: int | None = None) -> str:
    """A `Stripe-Signature` header computed as Stripe does: HMAC-SHA256 of `t.payload`."""
    at = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{at}.{payload}".encode(), hashlib.sha256).hexdigest()
    return f"t={at},v1={mac}"


async def deliver(
    http: httpx.AsyncClient, event: dict[str, Any], headers: dict[str, str] | None = None
) -> httpx.Response:
    """POST the event to /webhooks/stripe as Stripe does; signed unless `headers` are given."""
    payload = json.dumps(event, indent=2)
    sent = {"content-type": "application/json; charset=utf-8", "user-agent": "Stripe/1.0"}
    sent |= {"stripe-signature": sign(payload)} if headers is None else headers
    return await http.post("/webhooks/stripe", content=payload, headers=sent)
