"""Alembic migrations of the ticket database (run by alerts.database.upgrade on every open)."""
