"""The statuses an order, ticket, event or payment can be in.

StrEnums whose values are the strings stored in the (plain str) columns and shown by
the API, so code says `OrderStatus.PAID` where a typo would otherwise be a silent
mismatch, while the database, the check constraints and the GraphQL enums keep the
same spelling (schema/ exposes these very classes).
"""

from __future__ import annotations

from enum import StrEnum


class OrderStatus(StrEnum):
    PENDING = "PENDING"
    PAID = "PAID"
    EXPIRED = "EXPIRED"
    CANCELLED = "CANCELLED"
    REFUNDED = "REFUNDED"


class TicketStatus(StrEnum):
    VALID = "VALID"
    USED = "USED"
    VOID = "VOID"


class EventStatus(StrEnum):
    DRAFT = "DRAFT"
    PUBLISHED = "PUBLISHED"
    CANCELLED = "CANCELLED"


class PaymentStatus(StrEnum):
    """`Order.payment_status` as we write it; a provider may report others (kept as given)."""

    NONE = "none"
    REQUIRES_PAYMENT = "requires_payment"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"


def status_check(statuses: type[StrEnum]) -> str:
    """The check constraint's text: `status IN ('A', 'B')`, as the migrations wrote it."""
    return "status IN (" + ", ".join(f"'{s.value}'" for s in statuses) + ")"


# Orders by what happened to their seats and money, for the rules that ask about a group.
HOLDING_SEATS = (OrderStatus.PENDING, OrderStatus.PAID)  # held or sold: seats taken
PAID_ONCE = (OrderStatus.PAID, OrderStatus.REFUNDED)  # money was taken at some point
RELEASED = (OrderStatus.EXPIRED, OrderStatus.CANCELLED)  # ended without payment
