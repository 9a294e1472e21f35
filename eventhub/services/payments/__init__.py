"""The payment-provider boundary: booking and refunds call `PaymentProvider`, never a vendor."""

from eventhub.services.payments.base import (
    PaymentDeclined,
    PaymentInfo,
    PaymentProvider,
    ProviderUnavailable,
    RefundInfo,
)
from eventhub.services.payments.offline import OfflineProvider

__all__ = [
    "OfflineProvider",
    "PaymentDeclined",
    "PaymentInfo",
    "PaymentProvider",
    "ProviderUnavailable",
    "RefundInfo",
]
