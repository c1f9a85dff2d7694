"""Grafana dashboards as code (grafana-foundation-sdk): build and push."""
