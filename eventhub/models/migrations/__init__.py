"""Alembic migrations; `eventhub.models.migrate` runs them."""
