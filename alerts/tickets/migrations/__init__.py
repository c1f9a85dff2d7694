"""Alembic migrations of the ticket database (run by alerts.tickets.db.upgrade on every open)."""
