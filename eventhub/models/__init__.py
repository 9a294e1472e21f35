"""SQLModel tables, one module per aggregate. Importing this registers them all."""

from eventhub.models.audit import AuditEntry
from eventhub.models.documents import TrustedDocument
from eventhub.models.events import Event, EventStaff, PromoCode, TicketType
from eventhub.models.fair_share import CustomerHold, CustomerPending
from eventhub.models.orders import Order, OrderItem
from eventhub.models.outbox import OutboxDelivery, OutboxMessage
from eventhub.models.payments import PaymentTask, ProcessedProviderEvent
from eventhub.models.sales import EVENT_SALES  # noqa: F401  (registers the sales tables)
from eventhub.models.ticket_keys import RetiredTicketKey
from eventhub.models.tickets import Ticket
from eventhub.models.users import RefreshToken, User
from eventhub.models.webhooks import WebhookAttempt, WebhookEndpoint

__all__ = [
    "AuditEntry",
    "CustomerHold",
    "CustomerPending",
    "Event",
    "EventStaff",
    "Order",
    "OrderItem",
    "OutboxDelivery",
    "OutboxMessage",
    "PaymentTask",
    "ProcessedProviderEvent",
    "PromoCode",
    "RefreshToken",
    "RetiredTicketKey",
    "Ticket",
    "TicketType",
    "TrustedDocument",
    "User",
    "WebhookAttempt",
    "WebhookEndpoint",
]
