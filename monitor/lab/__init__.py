"""monitor.lab."""
