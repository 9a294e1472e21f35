"""events.max_per_customer: the fair-share cap on seats one account may hold

Revision ID: 0002_max_per_customer
Revises: 0001
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_max_per_customer"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("max_per_customer", sa.Integer(), nullable=True))
        batch_op.create_check_constraint(
            op.f("ck_events_max_per_customer_positive"),
            "max_per_customer IS NULL OR max_per_customer >= 1",
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_events_max_per_customer_positive"), type_="check")
        batch_op.drop_column("max_per_customer")
