"""payment_tasks: refunds and PaymentIntent cancels claimed before the provider is called

Revision ID: 0007_refunds_intent_cancel
Revises: 0006_inputs_bigint_money
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

import eventhub.models.base

revision = "0007_refunds_intent_cancel"
down_revision = "0006_inputs_bigint_money"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "payment_tasks",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_until", eventhub.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retry_at", eventhub.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("from_status", sa.String(length=16), nullable=True),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.String(length=500), nullable=True),
        sa.Column("created_at", eventhub.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"], ["orders.id"], name=op.f("fk_payment_tasks_order_id_orders"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("order_id", "kind", name=op.f("pk_payment_tasks")),
    )
    op.create_index(op.f("ix_payment_tasks_retry_at"), "payment_tasks", ["retry_at"])


def downgrade() -> None:
    op.drop_index(op.f("ix_payment_tasks_retry_at"), table_name="payment_tasks")
    op.drop_table("payment_tasks")
