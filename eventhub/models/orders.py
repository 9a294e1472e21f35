"""Orders and their line items. Prices are stored as charged, never recomputed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer, UniqueConstraint
from sqlmodel import Field, SQLModel

from eventhub.models.base import MinorUnits, UTCDateTime, utc_now
from eventhub.models.statuses import OrderStatus, PaymentStatus, status_check


class Order(SQLModel, table=True):
    __tablename__ = "orders"
    __table_args__ = (
        UniqueConstraint("buyer_id", "idempotency_key", name="uq_orders_buyer_idempotency"),
        CheckConstraint(status_check(OrderStatus), name="status"),
        CheckConstraint(
            "subtotal_minor >= 0 AND discount_minor >= 0 AND total_minor >= 0", name="money"
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    event_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("events.id", ondelete="RESTRICT"), index=True, nullable=False
        )
    )
    buyer_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="RESTRICT"), index=True, nullable=False
        )
    )
    status: str = Field(default=OrderStatus.PENDING, max_length=16, index=True)
    promo_code_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("promo_codes.id", ondelete="RESTRICT"), index=True),
    )
    promo_code: str | None = Field(default=None, max_length=64)
    currency: str = Field(max_length=3)
    subtotal_minor: int = Field(sa_type=MinorUnits)
    discount_minor: int = Field(default=0, sa_type=MinorUnits)
    total_minor: int = Field(sa_type=MinorUnits)
    expires_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    idempotency_key: str | None = Field(default=None, max_length=200)
    payment_provider: str = Field(default="offline", max_length=16)
    payment_intent_id: str | None = Field(default=None, max_length=255, unique=True)
    payment_client_secret: str | None = Field(default=None, max_length=255)
    payment_status: str = Field(default=PaymentStatus.NONE, max_length=32)
    refund_id: str | None = Field(default=None, max_length=255)
    created_at: datetime = Field(default_factory=utc_now, sa_type=UTCDateTime, index=True)
    paid_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class OrderItem(SQLModel, table=True):
    __tablename__ = "order_items"
    __table_args__ = (
        CheckConstraint("quantity >= 1", name="quantity_positive"),
        CheckConstraint("unit_price_minor >= 0 AND unit_discount_minor >= 0", name="money"),
    )

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("orders.id", ondelete="CASCADE"), index=True, nullable=False
        )
    )
    ticket_type_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("ticket_types.id", ondelete="RESTRICT"), index=True, nullable=False
        )
    )
    quantity: int
    unit_price_minor: int = Field(sa_type=MinorUnits)
    unit_discount_minor: int = Field(default=0, sa_type=MinorUnits)
