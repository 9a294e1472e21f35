"""What every payment provider offers; implementations live beside this module."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from eventhub.models import Order


@dataclass(frozen=True)
class PaymentInfo:
    """A payment the buyer still has to complete (None from `create_payment` means paid now)."""

    intent_id: str
    client_secret: str | None
    status: str


@dataclass(frozen=True)
class RefundInfo:
    refund_id: str
    status: str


class ProviderUnavailable(Exception):
    """The provider could not be reached or failed; nothing was charged or refunded."""


class PaymentDeclined(Exception):
    """The provider refused the payment or refund."""


class PaymentProvider(Protocol):
    name: str
    pays_at_once: bool  # True: orders are PAID inside the booking transaction

    async def create_payment(self, order: Order) -> PaymentInfo | None:
        """Start collecting `order.total_minor`; None when the order is paid at once."""
        ...

    async def refund(self, order: Order) -> RefundInfo:
        """Refund the order in full; idempotent per order, so a retry never refunds twice."""
        ...

    async def find_refund(self, order: Order) -> RefundInfo | None:
        """The refund that already covers the order in full, if any (an answer we lost)."""
        ...

    async def cancel_payment(self, order: Order) -> dict[str, Any]:
        """Cancel the order's unpaid payment; returns it as the provider has it after: its
        "status" is "canceled", or "succeeded" when it was paid first, or another status
        to try again later."""
        ...
