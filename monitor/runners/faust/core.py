"""The worker's core: the pipeline plus what Kafka adds to it, in plain Python.

Agents and tasks only await; every decision is made here, by the same ``Pipeline`` the
embedded runner drives. The pipeline's work runs on one thread of its own (``off_loop``):
a catch-up judging hundreds of hours no longer holds the event loop, so timers, web views
and the producer's sends keep their time, and pipeline calls never overlap. The intake,
which keeps no state, runs on a process of its own when there is a second core
(``intake_process``); this core then only counts what it reports.

What this adds to the pipeline: which raw topic carries which kind of event, which
events-topic partition a region maps to, the region state saved in the Faust table, and the
findings and notifications of a batch collected for their topics.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ParamSpec, TypeVar

import orjson
from kafka import KafkaConsumer, TopicPartition

from alerts.findings import TickResult
from alerts.notify.housekeeping import Housekeeping
from alerts.notify.outbox import Dispatcher, wall_ms
from alerts.policy.notifiers import FanOut, LogNotifier, MemoryNotifier, Notification
from alerts.policy.service import AlertService
from alerts.tickets.store import TicketStore
from monitor.config.model import MonitorConfig
from monitor.config.reload import ConfigWatcher
from monitor.events.deadletters import DeadLetter, MemoryDeadLetters
from monitor.observability.metrics import WorkerMetrics
from monitor.pipeline import MAX_SCAN_HOURS, Pipeline
from monitor.runners.faust.bundles import Item, Record, partition_for
from monitor.runners.faust.settings import WorkerSettings
from monitor.runners.faust.validation import Checked, IntakeRules, check_batch, kind_of
from monitor.windows.aggregation import HourlyAggregate, RegionWindows

KIND_BY_ROLE = {"complaints": "complaint", "kpis": "kpi"}
log = logging.getLogger("yujing.faust")
P = ParamSpec("P")
R = TypeVar("R")


def wall_clock(_hour: int) -> int:
    return wall_ms()


@dataclass
class Batch:
    """What an aggregation batch produced, for the agent to send and save in order."""

    aggregates: list[HourlyAggregate]
    dead: list[DeadLetter]
    # the aggregates as the hourly topic's (key, value), serialised on the pipeline thread
    hourly: list[tuple[bytes, bytes]] = field(default_factory=list)


class WorkerCore:
    """The pipeline of one worker, and the Kafka-specific bookkeeping around it."""

    def __init__(self, settings: WorkerSettings, config: MonitorConfig) -> None:
        self.settings = settings
        self.store = TicketStore(settings.database_url)
        self.sent = MemoryNotifier()  # this batch's notifications, for the alerts topic
        self.dispatcher = Dispatcher.for_settings(self.store.engine, config.notifications)
        alerts = AlertService(
            store=self.store,
            notifier=FanOut(LogNotifier(), self.sent),
            settings=config.alerts,
            notifications=config.notifications,
            dispatcher=self.dispatcher,
            deliver_inline=False,
        )
        self.housekeeping = Housekeeping(alerts.escalate, self.dispatcher)
        self.watcher = (
            ConfigWatcher(settings.config_path, config)
            if settings.config_path is not None
            else None
        )
        self._dead = MemoryDeadLetters()  # drained into the dead-letter topic per batch
        # a region's saved window state: the Faust table's ``get``, set by the app
        self.load_state: Callable[[str], dict[str, object] | None] = lambda _region: None
        self.pipeline = Pipeline(
            config,
            alerts,
            self._dead,
            clock=wall_clock,
            watcher=self.watcher,
            live=True,
            window_loader=lambda region: self.load_state(region),
            # a catch-up's hours wait to be judged together until a snapshot (at most
            # SNAPSHOT_SECONDS_BEHIND) or this many: a scan costs nearly as much for one
            # hour as for a day (1,000 regions: ~0.5 s for 1, ~1.2 s for 24, ~1.8 s for
            # 195), and a day's cap split a day and a bit of catch-up into two scans
            scan_hours=MAX_SCAN_HOURS,
        )
        self.ticks: list[TickResult] = []
        self.pipeline.observe(tick=self.ticks.append)
        self.regions_seen: set[str] = set()
        self.assigned: set[int] = set()
        names = settings.topics
        self.kind_by_topic = {names.name(role): kind for role, kind in KIND_BY_ROLE.items()}
        self._kinds: dict[str, str | None] = {}  # by source "topic:partition"
        # the gauges are set when /metrics is scraped (on this core's thread), not after
        # every tick: setting them for a thousand regions took 0.4 s of the pipeline's
        # thread each second of a catch-up (docs/benchmarks.md)
        self.metrics = WorkerMetrics(
            self.pipeline, self.store, self.watcher, refresh_every_s=math.inf
        )
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="yujing-pipeline")
        self.queued = 0  # pipeline calls submitted and not finished

    async def off_loop(self, work: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
        """Run pipeline work on the core's one pipeline thread, in call order."""
        loop = asyncio.get_running_loop()
        self.queued += 1
        try:
            return await loop.run_in_executor(self._thread, lambda: work(*args, **kwargs))
        finally:
            self.queued -= 1

    def close(self) -> None:
        self._thread.shutdown(wait=True)

    def _take_dead(self) -> list[DeadLetter]:
        letters, self._dead.letters = self._dead.letters, []
        return letters

    def _kind(self, source: str) -> str | None:
        """The raw topic (``source`` is "topic:partition") fixes the kind of event."""
        kind = self._kinds.get(source)
        if kind is None and source not in self._kinds:
            if len(self._kinds) > 4096:  # partitions come and go: memory stays bounded
                self._kinds.clear()
            kind = self._kinds[source] = kind_of(source, self.kind_by_topic)
        return kind

    def intake_rules(self) -> IntakeRules:
        """What the intake checks a batch by, from the config in force now."""
        return IntakeRules(
            self.pipeline.config.vocabulary,
            self.pipeline.aggregator.config,
            self.settings.partitions,
            self.kind_by_topic,
        )

    async def check(self, records: Sequence[Record]) -> Checked:
        """Intake in the worker's process: a raw batch checked and counted on the pipeline
        thread."""
        return await self.off_loop(self.validate, records)

    def validate(self, records: Sequence[Record]) -> Checked:
        """``check`` on the calling thread (the pipeline's, or a test's); the intake sends
        the batch's dead letters, this worker counts them."""
        checked = check_batch(records, self.intake_rules(), wall_ms())
        self.count_intake(checked.received, checked.reasons())
        return checked

    def count_intake(self, received: int, dead: Mapping[str, int]) -> None:
        """What the intake read, and refused by reason (those dead letters it sends
        itself), into this worker's counters (on the pipeline thread)."""
        stats = self.pipeline.stats
        stats.events_in += received
        for reason, n in dead.items():
            stats.dead_lettered[reason] += n

    def ingest(self, items: Iterable[Item]) -> Batch:
        """Aggregation: add events (validated by the intake; those without an event are
        validated here) to their regions' windows and close what their watermarks passed.
        An event a bundle carries was validated and bounded in time by the intake (every
        version 2 bundle's writer does both): its time is not checked twice."""
        now = wall_ms()
        pipeline = self.pipeline
        for value, source, offset, valid in items:
            event = valid or pipeline.validate(
                value, kind=self._kind(source), source=source, offset=offset, received=False
            )
            if event is not None and event.type != "region":
                pipeline.ingest(
                    event, value, source, (source, offset), now, bounded=valid is not None
                )
        self.regions_seen.update(pipeline.changed_regions)
        return self._batch(pipeline.close(now))

    def close_silent(self) -> Batch:
        """The hours of regions silent on every input that the stream has passed."""
        return self._batch(self.pipeline.close_silent(wall_ms()))

    def hold_saved(self, records: Iterable[tuple[bytes, bytes | None]]) -> int:
        """The owned partitions' regions from the windows table's (key, value), held before
        they speak (``HourlyAggregator.hold_saved``); a state that does not load is left
        to its region's next event, which dead-letters it as before."""
        partitions, owned = self.settings.partitions, self.assigned
        held = 0
        for key, value in records:  # one by one: a state that does not load spares the rest
            name = key.decode(errors="replace")
            if not value or partition_for(name, partitions) not in owned:
                continue
            try:  # orjson's decode error is a ValueError
                held += self.pipeline.aggregator.hold_saved([(name, orjson.loads(value))])
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                log.warning(
                    "saved window state unreadable",
                    extra={"fields": {"region": name, "error": repr(exc)[:200]}},
                )
        return held

    def _batch(self, aggregates: list[HourlyAggregate]) -> Batch:
        hourly = [(a.region.encode(), orjson.dumps(a.to_json())) for a in aggregates]
        return Batch(aggregates=aggregates, dead=self._take_dead(), hourly=hourly)

    def detect(
        self, aggregates: list[HourlyAggregate], behind: bool = False
    ) -> tuple[list[TickResult], list[Notification]]:
        """Series, detectors and alert policy; the ticks and notifications they produced.
        ``behind``: more input is waiting (the hours may wait for ``judge_backlog``)."""
        return self._judged(lambda: self.pipeline.apply(aggregates, behind=behind))

    def judge_backlog(self) -> tuple[list[TickResult], list[Notification]]:
        """The hours a catch-up kept back, judged (before a snapshot makes them final)."""
        return self._judged(self.pipeline.judge_backlog)

    def _judged(self, work: Callable[[], object]) -> tuple[list[TickResult], list[Notification]]:
        self.ticks.clear()
        self.sent.sent.clear()
        work()
        return list(self.ticks), list(self.sent.sent)

    def states_to_save(self) -> dict[str, RegionWindows]:
        return self.pipeline.take_changed_windows()

    def state_records(self, owned: set[int] | None = None) -> list[tuple[bytes, bytes]]:
        """The changed regions' window states as the table's (key, value), serialised
        here, off the event loop; ``owned``: only regions of these partitions."""
        partitions = self.settings.partitions
        return [
            (r.encode(), orjson.dumps(state.to_json()))
            for r, state in self.states_to_save().items()
            if owned is None or partition_for(r, partitions) in owned
        ]

    def drop_unsaved(self) -> None:
        """A round failed half-way: what the rounds since the last snapshot changed must
        not outlive it (the table is the truth; their events are read again)."""
        self.pipeline.drop_unsaved()
        self._take_dead()
        self.assigned = set()  # the next round restores the owned partitions' state

    def reload_if_changed(self) -> bool:
        """Apply a changed, valid config; refill history if it watches new metrics."""
        new_metrics = self.pipeline.maybe_reload()
        if new_metrics is None:
            return False
        if new_metrics:
            self.restore(self.assigned)
        return True

    def restore(self, partitions: set[int]) -> int:
        """Start the owned partitions over from durable records: series from the hourly
        topic, alert state from the open tickets; returns the hourly records read."""
        self.assigned = set(partitions)
        return self.pipeline.restore(self._hourly_log(partitions))

    def _hourly_log(self, partitions: set[int]) -> Iterator[HourlyAggregate]:
        if not partitions:
            return
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            client_id="yujing-series",
            **self.settings.security.kafka_python(),
        )
        try:
            topic = self.settings.topics.name("hourly")
            tps = [TopicPartition(topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            while any(consumer.position(tp) < end[tp] for tp in tps):
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        yield HourlyAggregate.from_json(orjson.loads(record.value))
        finally:
            consumer.close()
