"""The `offline` provider: orders are paid at once (demo, development, cash at the box office)."""

from __future__ import annotations

from typing import Any

from eventhub.models import Order
from eventhub.services.payments.base import PaymentInfo, RefundInfo


class OfflineProvider:
    name = "offline"
    pays_at_once = True

    async def create_payment(self, order: Order) -> PaymentInfo | None:
        return None

    async def refund(self, order: Order) -> RefundInfo:
        return RefundInfo(refund_id=f"offline-refund-{order.id}", status="succeeded")

    async def find_refund(self, order: Order) -> RefundInfo | None:
        return None

    async def cancel_payment(self, order: Order) -> dict[str, Any]:
        return {"status": "canceled"}
