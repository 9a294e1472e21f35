"""Indexes for reads at volume: the catalogue's keyset and substring search

Revision ID: volume_read_indexes
Revises: 0007_refunds_intent_cancel
Create Date: 2026-12-06

- (starts_at, id) of published events, and (organizer_id, starts_at, id): every
  page of `events` and `myEvents` is one index seek, however deep the cursor;
- coalesce(ends_at, starts_at) of published events: the catalogue's count reads
  only the events not over yet;
- PostgreSQL: trigram (pg_trgm) GIN indexes on lower(name), lower(venue) and
  lower(description), which serve `lower(column) LIKE '%text%'` for any text of
  three characters or more. SQLite keeps the plain scan (its catalogue is small).
"""

import sqlalchemy as sa
from alembic import op

revision = "volume_read_indexes"
down_revision = "0007_refunds_intent_cancel"
branch_labels = None
depends_on = None

SEARCHED = ("name", "venue", "description")


def upgrade() -> None:
    op.create_index(
        "ix_events_published_starts_at_id",
        "events",
        ["starts_at", "id"],
        postgresql_where=sa.text("status = 'PUBLISHED'"),
        sqlite_where=sa.text("status = 'PUBLISHED'"),
    )
    op.create_index(
        "ix_events_organizer_starts_at_id", "events", ["organizer_id", "starts_at", "id"]
    )
    op.create_index(
        "ix_events_published_end",
        "events",
        [sa.text("coalesce(ends_at, starts_at)")],
        postgresql_where=sa.text("status = 'PUBLISHED'"),
        sqlite_where=sa.text("status = 'PUBLISHED'"),
    )
    if op.get_bind().dialect.name == "postgresql":
        op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
        for column in SEARCHED:
            op.execute(
                f"CREATE INDEX ix_events_{column}_trgm ON events "
                f"USING gin (lower({column}) gin_trgm_ops)"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for column in SEARCHED:
            op.execute(f"DROP INDEX ix_events_{column}_trgm")
    op.drop_index("ix_events_published_end", "events")
    op.drop_index("ix_events_organizer_starts_at_id", "events")
    op.drop_index("ix_events_published_starts_at_id", "events")
