"""The `stripe` provider: PaymentIntents, refunds and verified webhook events (official SDK).

A PaymentIntent is created with an idempotency key derived from the order (its
id and creation time, so two deployments or a reset database never share one):
a retry, ours or the SDK's, can never charge twice. A refund never repeats
because it is always "refund what is left": Stripe answers a second one with
`charge_already_refunded`, which we take as done. Its idempotency key is fresh
per attempt (the SDK reuses it for its own retries), because Stripe stores a
5xx answer under a key for 24 hours and would replay it to every later retry.

Every call is bounded: `timeout` seconds per attempt (the SDK's default is 80)
and at most `RETRIES` retries, so a reservation waits about 30 s for Stripe at
the defaults, never minutes, and then releases its seats.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import stripe

from eventhub.models import Order
from eventhub.services.payments.base import (
    PaymentDeclined,
    PaymentInfo,
    ProviderUnavailable,
    RefundInfo,
)
from eventhub.services.payments.stripe import event_shape


class InvalidWebhook(Exception):
    """Bad or stale signature, or a body that is not a Stripe event."""


# Currencies EventHub keeps with 0 decimals that Stripe's API still takes in hundredths
# ("ISK ... for backwards compatibility, pass amounts as two-decimal, decimals 00").
STRIPE_HUNDREDTHS = frozenset({"ISK", "UGX"})
RETRIES = 2  # the SDK's own retries after a first attempt (same idempotency key)
BACKOFF_ALLOWANCE = 2.5  # s: the SDK sleeps 0.5 s then at most 1 s between attempts, plus slack


def stripe_amount(amount_minor: int, currency: str) -> int:
    """Our minor units → the amount Stripe's API expects for `currency`."""
    return amount_minor * 100 if currency.upper() in STRIPE_HUNDREDTHS else amount_minor


def _order_key(order: Order) -> str:
    created = int(order.created_at.timestamp() * 1_000_000) if order.created_at else 0
    return f"eventhub-order-{order.id}-{created}"


def _translate(error: stripe.StripeError) -> Exception:
    if isinstance(error, stripe.CardError):
        return PaymentDeclined(error.user_message or "the card was declined")
    if isinstance(error, stripe.InvalidRequestError):
        return PaymentDeclined(error.user_message or "the payment provider refused the request")
    return ProviderUnavailable("the payment provider is unavailable, please try again")


class StripeProvider:
    name = "stripe"
    pays_at_once = False

    def __init__(
        self, secret_key: str, webhook_secret: str, api_base: str, *, timeout: float = 10.0
    ) -> None:
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            max_network_retries=RETRIES,
            http_client=stripe.HTTPXClient(timeout=timeout),
        )
        self._webhook_secret = webhook_secret
        # The whole call, retries included: httpx's timeout is per read, not per attempt.
        self._budget = timeout * (RETRIES + 1) + BACKOFF_ALLOWANCE

    async def create_payment(self, order: Order) -> PaymentInfo | None:
        params: dict[str, Any] = {
            "amount": stripe_amount(order.total_minor, order.currency),
            "currency": order.currency.lower(),
            "metadata": {"order_id": str(order.id)},
            "automatic_payment_methods": {"enabled": True},
        }
        try:
            async with asyncio.timeout(self._budget):
                intent = await self._client.v1.payment_intents.create_async(
                    params=params,  # type: ignore[arg-type]
                    options={"idempotency_key": f"{_order_key(order)}-intent"},
                )
        except stripe.StripeError as error:
            raise _translate(error) from error
        except TimeoutError:
            raise ProviderUnavailable("the payment provider did not answer in time") from None
        return PaymentInfo(intent["id"], intent["client_secret"], intent["status"])

    async def refund(self, order: Order) -> RefundInfo:
        if not order.payment_intent_id:  # free order, or paid outside Stripe
            return RefundInfo(refund_id=f"none-{order.id}", status="succeeded")
        attempt = uuid.uuid4().hex[:16]
        try:
            refund = await self._client.v1.refunds.create_async(
                params={"payment_intent": order.payment_intent_id},
                options={"idempotency_key": f"{_order_key(order)}-refund-{attempt}"},
            )
        except stripe.InvalidRequestError as error:
            if error.code == "charge_already_refunded":  # a retry, or refunded in the Dashboard
                return await self._existing_refund(order)
            raise _translate(error) from error
        except stripe.StripeError as error:
            raise _translate(error) from error
        if refund["status"] in ("failed", "canceled"):
            raise PaymentDeclined(f"the refund {refund['status']}")
        return RefundInfo(refund["id"], refund["status"])

    async def _existing_refund(self, order: Order) -> RefundInfo:
        """The refund that already emptied the intent's charge (newest first)."""
        refunds = await self._refunds_of(str(order.payment_intent_id))
        if not refunds:
            raise ProviderUnavailable("stripe says the charge is refunded but lists no refund")
        return RefundInfo(str(refunds[0]["id"]), str(refunds[0]["status"]))

    async def _refunds_of(self, intent_id: str) -> list[Any]:
        """The intent's refunds that took or may still take money back, newest first."""
        try:
            page = await self._client.v1.refunds.list_async(
                params={"payment_intent": intent_id, "limit": 100}
            )
        except stripe.StripeError as error:
            raise _translate(error) from error
        return [r for r in page.data if r["status"] not in ("failed", "canceled")]

    async def find_refund(self, order: Order) -> RefundInfo | None:
        """A refund an earlier attempt made (its answer lost): only one covering the order."""
        if not order.payment_intent_id:
            return None
        refunds = await self._refunds_of(order.payment_intent_id)
        owed = stripe_amount(order.total_minor, order.currency)
        if not refunds or sum(int(r["amount"]) for r in refunds) < owed:
            return None  # none, or partial ones only: refunding "what is left" finishes it
        return RefundInfo(str(refunds[0]["id"]), str(refunds[0]["status"]))

    async def cancel_payment(self, order: Order) -> dict[str, Any]:
        if not order.payment_intent_id:
            return {"status": "canceled"}
        try:
            intent = await self._client.v1.payment_intents.cancel_async(order.payment_intent_id)
            return dict(intent.to_dict())
        except stripe.InvalidRequestError as error:
            if error.code != "payment_intent_unexpected_state":
                raise _translate(error) from error
        except stripe.StripeError as error:
            raise _translate(error) from error
        # Already canceled, already paid or mid-payment: Stripe refuses; ask how it stands.
        return await self.intent_status(order.payment_intent_id)

    async def intent_status(self, intent_id: str, *, expand_charge: bool = False) -> dict[str, Any]:
        """The PaymentIntent as Stripe has it now, optionally with its latest charge expanded."""
        # Since API version 2022-11-15 a charge lists its refunds only when asked to.
        params: dict[str, Any] = {"expand": ["latest_charge.refunds"]} if expand_charge else {}
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(
                intent_id,
                params=params,  # type: ignore[arg-type]
            )
        except stripe.StripeError as error:
            raise _translate(error) from error
        return dict(intent.to_dict())

    def parse_event(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """Verify `Stripe-Signature` (HMAC-SHA256, 300 s tolerance), then check the event's shape.

        `InvalidWebhook`'s message is the reason the delivery is refused (HTTP 400)."""
        if not signature:
            raise InvalidWebhook("signature verification failed: missing Stripe-Signature header")
        try:
            stripe.WebhookSignature.verify_header(
                payload, signature, self._webhook_secret, stripe.Webhook.DEFAULT_TOLERANCE
            )
        except (stripe.SignatureVerificationError, ValueError) as error:
            raise InvalidWebhook(f"signature verification failed: {error}") from None
        try:
            return event_shape.parse_event(payload)
        except event_shape.MalformedEvent as error:
            raise InvalidWebhook(f"not a Stripe event: {error}") from None
