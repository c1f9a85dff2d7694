"""The monitor watching itself and the regions: Prometheus metrics and structured logs."""
