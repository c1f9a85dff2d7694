"""Operators' exports in: CSV (and Prometheus) to events or hourly values."""
