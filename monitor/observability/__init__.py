"""monitor.observability."""
