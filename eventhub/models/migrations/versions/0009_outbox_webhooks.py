"""outbox: messages written with their change, deliveries per channel, webhook endpoints

Revision ID: outbox_webhooks
Revises: volume_read_indexes
Create Date: 2026-12-06
"""

import sqlalchemy as sa
from alembic import op

import eventhub.models.base

revision = "outbox_webhooks"
down_revision = "volume_read_indexes"
branch_labels = None
depends_on = None

UTC = eventhub.models.base.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "outbox_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("uid", sa.String(length=40), nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=True),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("routed_at", UTC, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_messages")),
        sa.UniqueConstraint("uid", name=op.f("uq_outbox_messages_uid")),
    )
    op.create_index(op.f("ix_outbox_messages_kind"), "outbox_messages", ["kind"])
    op.create_index(op.f("ix_outbox_messages_event_id"), "outbox_messages", ["event_id"])
    op.create_index(op.f("ix_outbox_messages_routed_at"), "outbox_messages", ["routed_at"])
    op.create_table(
        "outbox_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=16), nullable=False),
        sa.Column("target", sa.String(length=320), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", UTC, nullable=False),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.Column("finished_at", UTC, nullable=True),
        sa.ForeignKeyConstraint(
            ["message_id"], ["outbox_messages.id"],
            name=op.f("fk_outbox_deliveries_message_id_outbox_messages"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox_deliveries")),
    )
    op.create_index("ix_outbox_deliveries_due", "outbox_deliveries", ["status", "next_attempt_at"])
    op.create_index(
        "ix_outbox_deliveries_target", "outbox_deliveries", ["channel", "target", "id"]
    )
    op.create_table(
        "webhook_endpoints",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("organizer_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("event_types", sa.String(length=500), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=True),
        sa.Column("secret", sa.String(length=100), nullable=False),
        sa.Column("previous_secret", sa.String(length=100), nullable=True),
        sa.Column("previous_secret_until", UTC, nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("disabled_at", UTC, nullable=True),
        sa.Column("disabled_reason", sa.String(length=200), nullable=True),
        sa.Column("failing_since", UTC, nullable=True),
        sa.Column("created_at", UTC, nullable=False),
        sa.ForeignKeyConstraint(
            ["organizer_id"], ["users.id"],
            name=op.f("fk_webhook_endpoints_organizer_id_users"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"], ["events.id"],
            name=op.f("fk_webhook_endpoints_event_id_events"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_endpoints")),
    )
    op.create_index(
        op.f("ix_webhook_endpoints_organizer_id"), "webhook_endpoints", ["organizer_id"]
    )
    op.create_table(
        "webhook_attempts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("delivery_id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("at", UTC, nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("latency_ms", sa.Integer(), nullable=False),
        sa.Column("response_excerpt", sa.String(length=500), nullable=True),
        sa.Column("error", sa.String(length=300), nullable=True),
        sa.ForeignKeyConstraint(
            ["delivery_id"], ["outbox_deliveries.id"],
            name=op.f("fk_webhook_attempts_delivery_id_outbox_deliveries"), ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["endpoint_id"], ["webhook_endpoints.id"],
            name=op.f("fk_webhook_attempts_endpoint_id_webhook_endpoints"), ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_attempts")),
    )
    op.create_index(op.f("ix_webhook_attempts_delivery_id"), "webhook_attempts", ["delivery_id"])
    op.create_index(op.f("ix_webhook_attempts_endpoint_id"), "webhook_attempts", ["endpoint_id"])


def downgrade() -> None:
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_endpoints")
    op.drop_table("outbox_deliveries")
    op.drop_table("outbox_messages")
