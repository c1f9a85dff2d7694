"""Web views of a worker: Prometheus metrics and a status page."""

from __future__ import annotations

from typing import Any

from monitor.observability.metrics import CONTENT_TYPE
from monitor.runners.faust.topology import Topology


def register(t: Topology) -> None:
    app, core = t.app, t.core
    events_name = t.settings.topics.name("events")

    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        body = await core.off_loop(core.metrics.exposition)  # reads the pipeline's series
        return web.bytes(body, content_type=CONTENT_TYPE.split(";")[0])

    @app.page("/yujing/status")
    async def status(web: Any, request: Any) -> Any:
        stats = core.pipeline.stats
        watcher = core.watcher
        return web.json(
            {
                "assigned_partitions": sorted(
                    tp.partition for tp in app.consumer.assignment() if tp.topic == events_name
                ),
                "regions": sorted(core.regions_seen),
                "events_received": stats.events_in,
                "dead_lettered": dict(stats.dead_lettered),
                "readings_accepted": stats.readings,
                "last_judged_hour": stats.last_judged_hour,
                "aggregates_closed": stats.closed,
                "aggregates": stats.aggregates,
                "hours_to_judge": core.pipeline.hours_to_judge,
                "ticks": stats.ticks,
                "findings": stats.findings,
                "tickets_opened": core.pipeline.alerts.stats.opened,
                "config_version": watcher.version if watcher else None,
                "config_reloads": watcher.reloads if watcher else 0,
                "config_reload_failures": watcher.failures if watcher else 0,
            }
        )
