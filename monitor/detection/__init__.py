"""monitor.detection.tick."""
