"""customer_holds and customer_pending: the fair-share counters, filled from live orders

Revision ID: 0005_customer_holds
Revises: 0004_retired_ticket_keys
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_customer_holds"
down_revision = "0004_retired_ticket_keys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "customer_holds",
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("held", sa.Integer(), nullable=False),
        sa.CheckConstraint("held >= 0", name=op.f("ck_customer_holds_held_non_negative")),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"], name=op.f("fk_customer_holds_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_customer_holds_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("event_id", "user_id", name=op.f("pk_customer_holds")),
    )
    op.create_index(op.f("ix_customer_holds_user_id"), "customer_holds", ["user_id"])
    op.create_table(
        "customer_pending",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("pending", sa.Integer(), nullable=False),
        sa.CheckConstraint("pending >= 0", name=op.f("ck_customer_pending_pending_non_negative")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_customer_pending_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_customer_pending")),
    )
    # The counters start from what live orders already hold.
    op.execute(
        "INSERT INTO customer_holds (event_id, user_id, held) "
        "SELECT o.event_id, o.buyer_id, SUM(i.quantity) FROM orders o "
        "JOIN order_items i ON i.order_id = o.id WHERE o.status IN ('PENDING', 'PAID') "
        "GROUP BY o.event_id, o.buyer_id"
    )
    op.execute(
        "INSERT INTO customer_pending (user_id, pending) "
        "SELECT buyer_id, COUNT(*) FROM orders WHERE status = 'PENDING' GROUP BY buyer_id"
    )


def downgrade() -> None:
    op.drop_table("customer_pending")
    op.drop_index(op.f("ix_customer_holds_user_id"), table_name="customer_holds")
    op.drop_table("customer_holds")
