"""Per-buyer counters behind the fair-share rules, kept by conditional updates.

`CustomerHold.held` is the seats one account holds for one event across its
PENDING and PAID orders; `CustomerPending.pending` is how many PENDING orders
the account has. Bookings raise them with `… WHERE held + n <= cap` in the
same transaction that takes the seats; whoever gives seats back lowers them.
"""

from __future__ import annotations

from sqlalchemy import CheckConstraint, Column, ForeignKey, Integer
from sqlmodel import Field, SQLModel


class CustomerHold(SQLModel, table=True):
    __tablename__ = "customer_holds"
    __table_args__ = (CheckConstraint("held >= 0", name="held_non_negative"),)

    event_id: int = Field(
        sa_column=Column(Integer, ForeignKey("events.id", ondelete="CASCADE"), primary_key=True)
    )
    user_id: int = Field(
        sa_column=Column(
            Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True, index=True
        )
    )
    held: int = Field(default=0)


class CustomerPending(SQLModel, table=True):
    __tablename__ = "customer_pending"
    __table_args__ = (CheckConstraint("pending >= 0", name="pending_non_negative"),)

    user_id: int = Field(
        sa_column=Column(Integer, ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    )
    pending: int = Field(default=0)
