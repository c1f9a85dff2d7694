"""The worker's topics and table, in one place for the agents, tasks and views to share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faust

from monitor.runners.faust.core import WorkerCore
from monitor.runners.faust.regions import RegionDirectory
from monitor.runners.faust.settings import WorkerSettings


@dataclass
class Topology:
    app: faust.App
    core: WorkerCore
    settings: WorkerSettings
    regions: RegionDirectory
    events: Any
    hourly: Any
    findings: Any
    alerts: Any
    deadletters: Any
    windows: Any  # the changelogged table of region window state
    raw_topics: list[str]
    intake_lag: dict[str, int] = field(default_factory=dict)  # "topic:partition" -> lag


def declare(app: faust.App, core: WorkerCore, regions: RegionDirectory) -> Topology:
    """Topics and the ``windows`` table of this app."""
    settings = core.settings
    names = settings.topics
    windows = app.Table(
        "windows",
        default=None,
        partitions=settings.partitions,
        use_partitioner=True,
        key_type=bytes,  # bytes keys: "raw", as the events topic's keys
        help="per-region hourly window state",
    )
    core.load_state = lambda region: windows.get(region.encode())
    return Topology(
        app=app,
        core=core,
        settings=settings,
        regions=regions,
        events=app.topic(names.name("events"), partitions=settings.partitions),
        hourly=app.topic(names.name("hourly")),
        findings=app.topic(names.name("findings")),
        alerts=app.topic(names.name("alerts")),
        deadletters=app.topic(names.name("deadletters")),
        windows=windows,
        raw_topics=list(core.kind_by_topic),
    )
