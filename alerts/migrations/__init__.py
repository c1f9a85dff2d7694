"""Alembic migrations of the ticket database (run by alerts.db.upgrade on every open)."""
