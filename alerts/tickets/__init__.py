"""alerts.tickets.store."""
