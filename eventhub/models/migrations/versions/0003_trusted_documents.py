"""trusted_documents: persisted documents loaded by `eventhub documents add`

Revision ID: 0003_trusted_documents
Revises: 0002_max_per_customer
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op

import eventhub.models.base

revision = "0003_trusted_documents"
down_revision = "0002_max_per_customer"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "trusted_documents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_id", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("added_at", eventhub.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_trusted_documents")),
        sa.UniqueConstraint("document_id", name=op.f("uq_trusted_documents_document_id")),
    )


def downgrade() -> None:
    op.drop_table("trusted_documents")
