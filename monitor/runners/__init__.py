"""monitor.runners."""
