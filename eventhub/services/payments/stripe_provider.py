"""The `stripe` provider: PaymentIntents, refunds and verified webhook events (official SDK).

Every call that moves money carries an idempotency key derived from the
order, so a retry (ours or the SDK's) can never charge or refund twice.
"""

from __future__ import annotations

from typing import Any

import stripe

from eventhub.models import Order
from eventhub.services.payments.base import (
    PaymentDeclined,
    PaymentInfo,
    ProviderUnavailable,
    RefundInfo,
)


class InvalidWebhook(Exception):
    """Bad or stale signature, or a body that is not a Stripe event."""


def _translate(error: stripe.StripeError) -> Exception:
    if isinstance(error, stripe.CardError):
        return PaymentDeclined(error.user_message or "the card was declined")
    if isinstance(error, stripe.InvalidRequestError):
        return PaymentDeclined(error.user_message or "the payment provider refused the request")
    return ProviderUnavailable("the payment provider is unavailable, please try again")


class StripeProvider:
    name = "stripe"
    pays_at_once = False

    def __init__(self, secret_key: str, webhook_secret: str, api_base: str) -> None:
        self._client = stripe.StripeClient(
            secret_key,
            base_addresses={"api": api_base},
            max_network_retries=2,
            http_client=stripe.HTTPXClient(),
        )
        self._webhook_secret = webhook_secret

    async def create_payment(self, order: Order) -> PaymentInfo | None:
        params: dict[str, Any] = {
            "amount": order.total_minor,
            "currency": order.currency.lower(),
            "metadata": {"order_id": str(order.id)},
            "automatic_payment_methods": {"enabled": True},
        }
        try:
            intent = await self._client.v1.payment_intents.create_async(
                params=params,  # type: ignore[arg-type]
                options={"idempotency_key": f"eventhub-order-{order.id}-intent"},
            )
        except stripe.StripeError as error:
            raise _translate(error) from error
        return PaymentInfo(intent["id"], intent["client_secret"], intent["status"])

    async def refund(self, order: Order) -> RefundInfo:
        if not order.payment_intent_id:  # free order, or paid outside Stripe
            return RefundInfo(refund_id=f"none-{order.id}", status="succeeded")
        try:
            refund = await self._client.v1.refunds.create_async(
                params={"payment_intent": order.payment_intent_id},
                options={"idempotency_key": f"eventhub-order-{order.id}-refund"},
            )
        except stripe.StripeError as error:
            raise _translate(error) from error
        if refund["status"] in ("failed", "canceled"):
            raise PaymentDeclined(f"the refund {refund['status']}")
        return RefundInfo(refund["id"], refund["status"])

    async def cancel_payment(self, order: Order) -> None:
        if not order.payment_intent_id:
            return
        try:
            await self._client.v1.payment_intents.cancel_async(order.payment_intent_id)
        except stripe.StripeError as error:
            raise _translate(error) from error

    async def intent_status(self, intent_id: str) -> dict[str, Any]:
        """The PaymentIntent as Stripe has it now (for reconciliation)."""
        try:
            intent = await self._client.v1.payment_intents.retrieve_async(intent_id)
        except stripe.StripeError as error:
            raise _translate(error) from error
        return dict(intent.to_dict())

    def parse_event(self, payload: bytes, signature: str | None) -> dict[str, Any]:
        """Verify `Stripe-Signature` (HMAC-SHA256, 300 s tolerance) and parse the event."""
        if not signature:
            raise InvalidWebhook("missing Stripe-Signature header")
        try:
            event = stripe.Webhook.construct_event(payload, signature, self._webhook_secret)
        except (stripe.SignatureVerificationError, ValueError) as error:
            raise InvalidWebhook(str(error)) from None
        return dict(event.to_dict())
