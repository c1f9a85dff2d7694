"""The worker's topics and table, in one place for the agents, tasks and views to share."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import faust
import orjson

from monitor.runners.faust.core import WorkerCore
from monitor.runners.faust.failures import Failures
from monitor.runners.faust.regions import RegionDirectory
from monitor.runners.faust.settings import WorkerSettings
from monitor.runners.faust.snapshots import Unsaved
from monitor.runners.faust.stall import Taken


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
    unsaved: Unsaved = field(default_factory=Unsaved)  # applied, not yet in a snapshot
    taken: Taken = field(default_factory=Taken)  # what the agent took, per events partition
    failures: Failures = field(default_factory=Failures)  # rounds failed half-way

    def lag(self) -> dict[str, int]:
        """Records waiting per input topic: raw records the intake has not read (as of its
        last fetch), and events-topic records the aggregation has not taken."""
        events = self.settings.topics.name("events")
        lag: dict[str, int] = dict.fromkeys([*self.raw_topics, events], 0)
        for key, value in self.intake_lag.items():
            topic = key.rpartition(":")[0]
            lag[topic] = lag.get(topic, 0) + value
        consumer = self.app.consumer
        read = getattr(consumer, "_read_offset", {})
        for tp in consumer.assignment():
            if tp.topic != events:  # changelogs are read by table recovery, not agents
                continue
            high = consumer.highwater(tp)
            last = read.get(tp)
            if high is not None:
                done = last + 1 if last is not None else 0
                lag[events] += max(high - done, 0)
        return lag


def load_state(value: bytes | dict[str, object] | None) -> dict[str, object] | None:
    """A saved window state: JSON bytes (a dict from Faust's json codec, before)."""
    if value is None or isinstance(value, dict):
        return value
    return orjson.loads(value)  # type: ignore[no-any-return]


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
        # values are JSON the pipeline thread serialised (orjson; bytes pass Faust's codecs
        # untouched): the event loop only
        # sends bytes (Faust's json codec took a tenth of the loop's time)
        value_type=bytes,
        help="per-region hourly window state",
    )
    core.load_state = lambda region: load_state(windows.get(region.encode()))
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
