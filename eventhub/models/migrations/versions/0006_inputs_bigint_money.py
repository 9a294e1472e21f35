"""Money columns become BIGINT, so every amount the API accepts (up to 10**12 minor units) fits

Revision ID: 0006_inputs_bigint_money
Revises: 0005_customer_holds
Create Date: 2026-12-06

SQLite's INTEGER is already 64-bit (and its column type is only an affinity),
so only PostgreSQL's 32-bit columns are altered; in place, with no table copy
of the rows' other columns.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_inputs_bigint_money"
down_revision = "0005_customer_holds"
branch_labels = None
depends_on = None

MONEY_COLUMNS = {
    "ticket_types": ("price_minor",),
    "promo_codes": ("amount",),
    "orders": ("subtotal_minor", "discount_minor", "total_minor"),
    "order_items": ("unit_price_minor", "unit_discount_minor"),
}


def _retype(new_type: sa.types.TypeEngine[int], old_type: sa.types.TypeEngine[int]) -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table, columns in MONEY_COLUMNS.items():
        for column in columns:
            op.alter_column(
                table, column, type_=new_type, existing_type=old_type, existing_nullable=False
            )


def upgrade() -> None:
    _retype(sa.BigInteger(), sa.Integer())


def downgrade() -> None:
    # Fails (rightly) if an amount no longer fits in 32 bits.
    _retype(sa.Integer(), sa.BigInteger())
