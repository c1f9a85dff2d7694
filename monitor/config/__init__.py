"""monitor.config.model."""
