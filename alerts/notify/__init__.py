"""alerts.notify.local."""
