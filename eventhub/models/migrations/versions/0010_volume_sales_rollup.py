"""Maintained figures: sales per event, hour, tier, promo code, buyer group; accounts per role

Revision ID: volume_sales_rollup
Revises: outbox_webhooks
Create Date: 2026-12-06

The tables of models/sales.py, the triggers of models/sales_triggers.py (on
PostgreSQL each with its plpgsql function), then every figure counted from the
orders already there, so an existing database starts right.
"""

from alembic import op

from eventhub.models import sales, sales_triggers

revision = "volume_sales_rollup"
down_revision = "outbox_webhooks"
branch_labels = None
depends_on = None

TABLES = (
    sales.EVENT_SALES,
    sales.SALES_HOURS,
    sales.TIER_SALES,
    sales.TIER_SALES_HOURS,
    sales.PROMO_SALES_HOURS,
    sales.EVENT_BUYERS,
    sales.EVENT_BUYER_GROUPS,
    sales.ROLE_COUNTS,
)


def upgrade() -> None:
    bind = op.get_bind()
    for table in TABLES:
        table.create(bind)
    for statement in sales_triggers.create_statements(bind.dialect.name):
        op.execute(statement)
    for statement in sales_triggers.rebuild_statements(bind.dialect.name):
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    for statement in sales_triggers.drop_statements(bind.dialect.name):
        op.execute(statement)
    for table in reversed(TABLES):
        table.drop(bind)
