"""Yujing's monitor: from raw complaint and KPI records to judged hours (docs/architecture.md).

Stages, each a package, each importing only the ones before it: ``events`` (schemas,
parsing, dead letters) -> ``windows`` (hourly event-time aggregation) -> ``detection``
(series store, the detection tick) -> ``pipeline`` (the one core) -> ``runners`` (embedded,
Faust) -> ``lab`` (simulators, backtest) -> ``cli``. ``config`` and ``observability``
serve them.
"""
