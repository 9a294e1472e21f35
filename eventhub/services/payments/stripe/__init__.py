"""Stripe, the one card provider: its client (`client`), the shape a webhook body must have
(`event_shape`), what a verified event does to orders (`webhook_events`), whether an intent
can settle an order (`intent_checks`) and `eventhub payments reconcile` (`reconcile`).

Nothing outside this package speaks Stripe: booking, refunds and cancels see only the
`PaymentProvider` protocol, and a payment Stripe confirms is applied by the provider-neutral
`services.payment_received`.
"""

from eventhub.services.payments.stripe.client import InvalidWebhook, StripeProvider, stripe_amount

__all__ = ["InvalidWebhook", "StripeProvider", "stripe_amount"]
