"""retired_ticket_keys: QR signing keys `eventhub keys retire` took out of service

Revision ID: 0004_retired_ticket_keys
Revises: 0003_trusted_documents
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import eventhub.models.base

revision = "0004_retired_ticket_keys"
down_revision = "0003_trusted_documents"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "retired_ticket_keys",
        sa.Column("kid", sa.String(length=16), nullable=False),
        sa.Column("retired_at", eventhub.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_retired_ticket_keys")),
    )


def downgrade() -> None:
    op.drop_table("retired_ticket_keys")
