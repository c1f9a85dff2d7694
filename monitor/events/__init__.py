"""monitor.events."""
