"""Preemptive inspection tickets: tables, the public view, life cycle, SLA clocks, store, API."""
