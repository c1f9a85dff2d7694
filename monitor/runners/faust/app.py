"""The Faust runner: the same core as the embedded runner, on Kafka, scaled by partitions.

Shape (as in the Faust docs: topics, tables, agents, web views, each agent short):

* ``intake``    raw complaint/KPI topics -> parse -> dead letters, or the ``events`` topic
  partitioned by region (the repartition: any producer key in, region out), one bundle
  record per destination partition and fetched batch (see monitor/bundles.py). It is a
  batch consumer (aiokafka ``getmany``, its own consumer group), not an agent: validation
  keeps no state, so it needs none of Faust's tables or rebalancing, and Faust's path
  costs ~250 µs per record (docs/benchmarks.md) where this one costs ~20;
* ``aggregate`` ``events`` -> per-region hourly windows in the ``windows`` table (changelog
  backed) -> hourly aggregates to the ``hourly`` topic -> series -> detectors -> alert
  policy -> tickets (database) + ``findings`` and ``alerts`` topics.

Crash safety without transactions, by ordering and idempotence:
1. aggregates, findings and notifications are produced, ticket rows committed;
2. the producer is flushed;
3. only then is the region's window state written to the ``windows`` table.
A worker killed anywhere replays from its last committed offset; the restored window state
remembers the highest input offset it applied per source partition, so replayed events are
skipped, and re-emitted hours are identical (same region, hour and revision). Tickets have
deterministic keys, so a replayed detection opens nothing new. The detectors' series are
rebuilt from the ``hourly`` topic (the durable log of aggregates) when partitions move.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import faust
import orjson
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import CommitFailedError
from kafka import KafkaConsumer, TopicPartition

from alerts.findings import TickResult
from alerts.notify.housekeeping import Housekeeping
from alerts.notify.outbox import Dispatcher
from alerts.policy.notifiers import FanOut, LogNotifier, MemoryNotifier
from alerts.policy.service import AlertService
from alerts.tickets.store import TicketStore
from monitor.config.model import MonitorConfig, load_config
from monitor.config.reload import ConfigWatcher
from monitor.events.deadletters import DeadLetter, MemoryDeadLetters
from monitor.events.parsing import parse_event
from monitor.events.schemas import Event, RegionInfo
from monitor.observability.metrics import CONTENT_TYPE, WorkerMetrics
from monitor.pipeline import Pipeline
from monitor.runners.faust.bundles import (
    BUNDLE_HEADER,
    decode_bundle,
    encode_bundles,
    partition_for,
)
from monitor.runners.faust.settings import WorkerSettings
from monitor.windows.aggregation import HourlyAggregate, Outcome, RegionWindows

log = logging.getLogger("yujing.faust")

KIND_BY_ROLE = {"complaints": "complaint", "kpis": "kpi"}


def wall_clock(_hour: int) -> int:
    return int(time.time() * 1000)


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    return [
        ("reason", letter.reason.value.encode()),
        ("field", (letter.field or "").encode()),
        ("detail", letter.detail.encode()[:2000]),
        ("source", letter.source.encode()),
        ("offset", str(letter.offset if letter.offset is not None else "").encode()),
    ]


# -- reference data --------------------------------------------------------------------
class RegionDirectory:
    """Subscribers per region, read from the compacted ``regions`` topic.

    Loaded to the end before the worker starts (so rates are known for the first hour), and
    kept current by polling while it runs. Invalid records are logged and counted.
    """

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self.subscribers: dict[str, int] = {}
        self.invalid = 0
        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            client_id="yujing-regions",
            group_id=None,
        )
        partitions = self._consumer.partitions_for_topic(topic) or set()
        self._tps = [TopicPartition(topic, p) for p in sorted(partitions)]
        self._consumer.assign(self._tps)
        self._consumer.seek_to_beginning(*self._tps)
        self._next_poll = 0.0

    def refresh(self, every_s: float = 5.0) -> None:
        """Pick up changed reference data now and then (a poll costs a network round trip)."""
        now = time.monotonic()
        if now >= self._next_poll:
            self._next_poll = now + every_s
            self.poll()

    def load(self, timeout_s: float = 30.0) -> None:
        end = self._consumer.end_offsets(self._tps)
        deadline = time.monotonic() + timeout_s
        while any(self._consumer.position(tp) < end[tp] for tp in self._tps):
            if time.monotonic() > deadline:
                raise TimeoutError(f"could not read {self.topic} to its end")
            self.poll(timeout_ms=500)

    def poll(self, timeout_ms: int = 0) -> None:
        for records in self._consumer.poll(timeout_ms=timeout_ms).values():
            for record in records:
                parsed = parse_event(
                    record.value or b"",
                    kind="region",
                    source=f"{record.topic}:{record.partition}",
                    offset=record.offset,
                )
                if isinstance(parsed, RegionInfo):
                    self.subscribers[parsed.region] = parsed.subscribers
                else:
                    self.invalid += 1
                    log.warning(
                        "invalid region record",
                        extra={
                            "fields": {
                                "offset": record.offset,
                                "detail": getattr(parsed, "detail", ""),
                            }
                        },
                    )

    def close(self) -> None:
        self._consumer.close()


# -- the worker's core -------------------------------------------------------------------
@dataclass
class Validated:
    dead: list[DeadLetter] = field(default_factory=list)
    bundles: dict[int, list[tuple[bytes, str, int]]] = field(default_factory=dict)


@dataclass
class BatchResult:
    aggregates: list[HourlyAggregate] = field(default_factory=list)
    states: dict[str, RegionWindows] = field(default_factory=dict)
    dead: list[DeadLetter] = field(default_factory=list)
    duplicates: int = 0


class WorkerCore:
    """Plain Python: what the aggregate agent does with a batch, minus the awaiting."""

    def __init__(self, settings: WorkerSettings, config: MonitorConfig) -> None:
        self.settings = settings
        self.store = TicketStore(settings.database_url)
        self.outbox = MemoryNotifier()
        self.dispatcher = Dispatcher.for_settings(self.store.engine, config.notifications)
        alerts = AlertService(
            store=self.store,
            notifier=FanOut(LogNotifier(), self.outbox),
            settings=config.alerts,
            notifications=config.notifications,
            dispatcher=self.dispatcher,
            deliver_inline=False,
        )
        self.housekeeping = Housekeeping(alerts.escalate, self.dispatcher)
        self.ticks: list[TickResult] = []
        self.regions_seen: set[str] = set()
        # live window state of owned regions; the table holds the same, serialised
        self.cache: dict[str, RegionWindows] = {}
        self.watcher = (
            ConfigWatcher(settings.config_path, config)
            if settings.config_path is not None
            else None
        )
        self.pipeline = Pipeline(
            config,
            alerts,
            MemoryDeadLetters(),
            clock=wall_clock,
            on_tick=self.ticks.append,
            live=True,
        )
        self.assigned: set[int] = set()
        names = settings.topics
        self.kind_by_topic = {names.name(role): kind for role, kind in KIND_BY_ROLE.items()}
        self.window_config = config.windows.to_window_config(live=True)
        self.metrics = WorkerMetrics(self.pipeline, self.store, self.watcher)

    def parse(self, value: bytes, source: str, offset: int) -> Event | DeadLetter:
        """Parse one raw event; its raw topic (``source`` is "topic:partition") fixes the
        kind."""
        kind = self.kind_by_topic.get(source.rpartition(":")[0])
        return parse_event(value, kind=kind, source=source, offset=offset)

    def validate(self, records: Iterable[tuple[bytes, str, int]]) -> Validated:
        """Parse a batch of raw (value, source partition, offset); group the valid ones by
        the events-topic partition their region maps to."""
        out = Validated()
        stats = self.pipeline.stats
        partitions = self.settings.partitions
        for value, source, offset in records:
            stats.events_in += 1
            parsed = self.parse(value, source, offset)
            if isinstance(parsed, DeadLetter):
                stats.dead_lettered[parsed.reason.value] += 1
                out.dead.append(parsed)
                continue
            if isinstance(parsed, RegionInfo):
                continue
            part = partition_for(parsed.region, partitions)
            bundle = out.bundles.get(part)
            if bundle is None:
                bundle = out.bundles[part] = []
            bundle.append((value, source, offset))
        return out

    def ingest(
        self, records: Iterable[tuple[bytes, str, int]], load: Any, subscribers: dict[str, int]
    ) -> BatchResult:
        """Add a batch of (value, source partition, offset) to their regions' windows."""
        result = BatchResult()
        now = int(time.time() * 1000)
        stats = self.pipeline.stats
        for value, source, offset in records:
            parsed = self.parse(value, source, offset)
            if isinstance(parsed, DeadLetter):
                result.dead.append(parsed)
                stats.dead_lettered[parsed.reason.value] += 1
                continue
            if isinstance(parsed, RegionInfo):
                continue
            region = parsed.region
            state = result.states.get(region)
            if state is None:
                state = self.cache.get(region)
                if state is None:
                    saved = load(region)
                    state = (
                        RegionWindows.from_json(saved, self.window_config)
                        if saved
                        else RegionWindows(region, self.window_config)
                    )
                    self.cache[region] = state
                result.states[region] = state
            outcome = state.add(parsed, value, source, position=(source, offset), now=now)
            if isinstance(outcome, DeadLetter):
                result.dead.append(outcome)
                stats.dead_lettered[outcome.reason.value] += 1
            elif outcome is Outcome.DUPLICATE:
                result.duplicates += 1
                stats.duplicates += 1
            else:
                stats.accepted += 1
                stats.readings += parsed.readings
                stats.late_accepted += outcome is Outcome.LATE
        self.regions_seen.update(result.states)
        for region in sorted(result.states):
            state = result.states[region]
            state.subscribers = subscribers.get(region, state.subscribers)
            result.aggregates.extend(state.poll(now=now))
        return result

    def reload_if_changed(self) -> bool:
        """Apply a changed, valid config; rebuild the series if it watches new metrics."""
        if self.watcher is None:
            return False
        config = self.watcher.check()
        if config is None:
            return False
        before = set(self.pipeline.series.metrics)
        self.pipeline.reload(config)
        self.window_config = config.windows.to_window_config(live=True)
        for state in self.cache.values():
            state.config = self.window_config
        if set(config.metrics_needed()) - before:
            self.rebuild_series(self.settings.topics.name("hourly"), self.assigned)
        return True

    def detect(self, aggregates: list[HourlyAggregate]) -> None:
        self.ticks.clear()
        self.outbox.sent.clear()
        self.pipeline.apply(aggregates)

    def rebuild_series(self, hourly_topic: str, partitions: set[int]) -> int:
        """Refill the detectors' memory from the hourly log of the given partitions."""
        from monitor.detection.store import SeriesStore

        old = self.pipeline.series
        metrics = sorted(set(old.metrics) | set(self.pipeline.config.metrics_needed()))
        self.pipeline.series = SeriesStore(metrics, history_hours=old.history_hours)
        if not partitions:
            return 0
        consumer = KafkaConsumer(
            bootstrap_servers=self.settings.bootstrap,
            group_id=None,
            enable_auto_commit=False,
            client_id="yujing-series",
        )
        try:
            tps = [TopicPartition(hourly_topic, p) for p in sorted(partitions)]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            n = 0
            while any(consumer.position(tp) < end[tp] for tp in tps):
                for records in consumer.poll(timeout_ms=500).values():
                    for record in records:
                        self.pipeline.series.update(
                            HourlyAggregate.from_json(orjson.loads(record.value))
                        )
                        n += 1
            return n
        finally:
            consumer.close()


# -- the app -----------------------------------------------------------------------------
def create_app(settings: WorkerSettings, config: MonitorConfig | None = None) -> faust.App:
    config = config or load_config(settings.config_path)
    names = settings.topics
    app = faust.App(
        settings.app_id,
        broker=f"kafka://{settings.bootstrap}",
        store="memory://",
        topic_partitions=settings.partitions,
        topic_replication_factor=1,
        key_serializer="raw",
        value_serializer="raw",
        consumer_auto_offset_reset="earliest",
        broker_commit_interval=settings.commit_interval,
        broker_session_timeout=settings.session_timeout,
        broker_heartbeat_interval=min(3.0, settings.session_timeout / 3),
        producer_acks=-1,
        web_host=settings.web_host,
        web_port=settings.web_port,
        datadir=str(settings.data_dir),
        table_cleanup_interval=3600.0,
        # agents take whole batches: the stream must be able to prefetch several, or
        # ``take_events`` waits out its timeout for a batch the buffer cannot hold
        stream_buffer_maxsize=max(4096, 4 * settings.batch_size),
        consumer_max_fetch_size=8 * 1024 * 1024,
    )
    core = WorkerCore(settings, config)
    # reference data first, so that the first hour a worker emits already has its rates
    region_dir = RegionDirectory(settings.bootstrap, names.name("regions"))
    region_dir.load()
    log.info("regions loaded", extra={"fields": {"regions": len(region_dir.subscribers)}})

    # topics
    events_topic = app.topic(names.name("events"), partitions=settings.partitions)
    hourly_topic = app.topic(names.name("hourly"))
    findings_topic = app.topic(names.name("findings"))
    alerts_topic = app.topic(names.name("alerts"))
    dead_topic = app.topic(names.name("deadletters"))
    raw_topics = list(core.kind_by_topic)

    # tables
    windows = app.Table(
        "windows",
        default=None,
        partitions=settings.partitions,
        use_partitioner=True,
        key_type=bytes,  # bytes keys: "raw", as the
        help="per-region hourly window state",
    )  # events topic's keys

    async def send_dead(letter: DeadLetter) -> None:
        await dead_topic.send(value=letter.raw, headers=dead_letter_headers(letter))

    # intake: a batch consumer, not an agent (see the module docstring)
    intake_lag: dict[str, int] = {}

    @app.task
    async def intake() -> None:
        """Raw topics -> dead letters, or one bundle per events-topic partition and batch;
        offsets committed once the batch's bundles are flushed (at least once: the
        aggregation skips what its state already applied)."""
        consumer = AIOKafkaConsumer(
            *raw_topics,
            bootstrap_servers=settings.bootstrap,
            group_id=f"{settings.app_id}-intake",
            client_id=f"{settings.app_id}-intake",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            session_timeout_ms=int(settings.session_timeout * 1000),
            heartbeat_interval_ms=int(min(3.0, settings.session_timeout / 3) * 1000),
        )
        await consumer.start()
        try:
            while True:
                fetched = await consumer.getmany(
                    timeout_ms=int(settings.batch_seconds * 1000), max_records=settings.batch_size
                )
                if fetched:
                    await intake_batch(fetched)
                    try:
                        await consumer.commit()
                    except CommitFailedError as exc:  # the group rebalanced meanwhile: the
                        log.warning(
                            "intake commit refused",
                            extra={
                                "fields": {  # new owner
                                    "error": str(exc)
                                }
                            },
                        )  # re-reads; the aggregation skips repeats
                owned = consumer.assignment()  # a rebalance may have moved some away
                for key in [
                    k for k in intake_lag if k not in {f"{t.topic}:{t.partition}" for t in owned}
                ]:
                    del intake_lag[key]
                for tp in owned:
                    high = consumer.highwater(tp)
                    if high is not None:
                        intake_lag[f"{tp.topic}:{tp.partition}"] = max(
                            high - await consumer.position(tp), 0
                        )
        finally:
            await consumer.stop()

    async def intake_batch(fetched: dict[Any, list[Any]]) -> None:
        # across partitions, the producers' timestamps stand in for arrival order (an
        # event is late relative to what arrived before it)
        records = sorted(
            (r for batch in fetched.values() for r in batch), key=lambda r: r.timestamp
        )
        result = core.validate(
            (r.value or b"", f"{r.topic}:{r.partition}", r.offset) for r in records
        )
        for letter in result.dead:
            await send_dead(letter)
        for partition, items in sorted(result.bundles.items()):
            for bundle in encode_bundles(items):
                await events_topic.send(value=bundle, partition=partition, headers=[BUNDLE_HEADER])
        await app.producer.flush()

    # agents
    @app.agent(events_topic)
    async def aggregate(stream: faust.StreamT) -> None:
        """Events -> windows table -> hourly topic -> detectors -> tickets and alerts."""
        async for batch in stream.take_events(settings.batch_size, within=settings.batch_seconds):
            _follow_assignment(app, core, names)
            core.reload_if_changed()
            region_dir.refresh()
            records = [record for e in batch for record in _records_of(e)]
            try:
                result = core.ingest(
                    records, lambda r: windows.get(r.encode()), region_dir.subscribers
                )
            except Exception:
                core.cache.clear()  # half-applied state must not outlive the failed batch
                raise
            closed = time.perf_counter()  # the hours the watermark passed are closed now
            for letter in result.dead:
                await send_dead(letter)
            for agg in result.aggregates:
                await hourly_topic.send(key=agg.region.encode(), value=orjson.dumps(agg.to_json()))
            core.detect(result.aggregates)
            if result.aggregates:  # ticket rows and their outbox rows are committed
                core.metrics.processing.labels("close").observe(time.perf_counter() - closed)
            for tick_result in core.ticks:
                for sf in tick_result.findings:
                    await findings_topic.send(
                        key=sf.finding.region.encode(),
                        value=orjson.dumps(
                            {
                                "spec_id": sf.spec_id,
                                "severity": sf.severity.value,
                                **sf.finding.to_json(),
                            }
                        ),
                    )
            for note in core.outbox.sent:
                await alerts_topic.send(
                    key=note.ticket.region.encode(), value=orjson.dumps(note.to_json())
                )
            await app.producer.flush()  # everything above is durable before the state is
            for region, state in result.states.items():
                windows[region.encode()] = state.to_json()

    @app.timer(interval=1.0)
    async def watch_config() -> None:
        """Hot reload without waiting for data: file changes and SIGHUP."""
        core.reload_if_changed()

    @app.timer(interval=1.0)
    async def deliver_notifications() -> None:
        """The outbox and SLA escalation, in a thread: an endpoint's timeout never stalls
        the agents."""
        await asyncio.get_running_loop().run_in_executor(None, core.housekeeping.step)

    @app.task
    async def on_sighup() -> None:
        if core.watcher is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, core.watcher.request)

    inputs = {names.name("events")}

    @app.timer(interval=5.0)
    async def measure_lag() -> None:
        """Consumer lag per input topic: high-water mark minus the next offset to process."""
        consumer = app.consumer
        read = getattr(consumer, "_read_offset", {})
        lag: dict[str, int] = dict.fromkeys([*raw_topics, *inputs], 0)
        for key, value in intake_lag.items():
            topic = key.rpartition(":")[0]
            lag[topic] = lag.get(topic, 0) + value
        for tp in consumer.assignment():
            if tp.topic not in inputs:  # changelogs are read by table recovery, not agents
                continue
            high = consumer.highwater(tp)
            last = read.get(tp)
            if high is not None:
                lag[tp.topic] = lag.get(tp.topic, 0) + max(
                    high - (last + 1 if last is not None else 0), 0
                )
        for topic, value in lag.items():
            core.metrics.consumer_lag.labels(topic).set(value)

    # web views
    @app.page("/metrics")
    async def metrics(web: Any, request: Any) -> Any:
        return web.bytes(core.metrics.exposition(), content_type=CONTENT_TYPE.split(";")[0])

    @app.page("/yujing/status")
    async def status(web: Any, request: Any) -> Any:
        stats = core.pipeline.stats
        return web.json(
            {
                "assigned_partitions": sorted(
                    tp.partition
                    for tp in app.consumer.assignment()
                    if tp.topic == names.name("events")
                ),
                "regions": sorted(core.regions_seen),
                "events_received": stats.events_in,
                "readings_accepted": stats.readings,
                "last_judged_hour": stats.last_judged_hour,
                "aggregates": stats.aggregates,
                "ticks": stats.ticks,
                "findings": stats.findings,
                "tickets_opened": core.pipeline.alerts.stats.opened,
                "config_version": core.watcher.version if core.watcher else None,
                "config_reloads": core.watcher.reloads if core.watcher else 0,
                "config_reload_failures": core.watcher.failures if core.watcher else 0,
            }
        )

    app.yujing_core = core  # type: ignore[attr-defined]
    return app


def _records_of(event: Any) -> list[tuple[bytes, str, int]]:
    """(raw, source partition, offset) of each event an ``events`` record carries."""
    msg = event.message
    headers = dict(msg.headers or [])
    if headers.get(BUNDLE_HEADER[0]) == BUNDLE_HEADER[1]:
        return decode_bundle(event.value)
    src, off = headers.get("src"), headers.get("off")
    if src is None or off is None:  # not from our validator: use this topic's position
        return [(event.value, f"{msg.topic}:{msg.partition}", msg.offset)]
    return [(event.value, src.decode(), int(off))]


def _follow_assignment(app: faust.App, core: WorkerCore, names: Any) -> None:
    """After a rebalance: rebuild series for the owned partitions, reload alert state."""
    events_name = names.name("events")
    now = {tp.partition for tp in app.consumer.assignment() if tp.topic == events_name}
    if now == core.assigned:
        return
    core.cache.clear()  # owned regions changed: the table (restored by Faust) is the truth
    core.assigned = now
    n = core.rebuild_series(names.name("hourly"), now)
    core.pipeline.alerts.restore()
    log.info(
        "partitions assigned", extra={"fields": {"partitions": sorted(now), "hourly_records": n}}
    )


def run_worker(settings: WorkerSettings) -> None:
    """Run one Faust worker in this process until it is stopped."""
    from faust.worker import Worker

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    app = create_app(settings)
    if settings.api_port is not None:
        from alerts.tickets.api import TokenAuth
        from monitor.runners.api_server import start_api

        core = app.yujing_core  # type: ignore[attr-defined]
        start_api(
            core.store,
            TokenAuth.from_env(),
            settings.api_host,
            settings.api_port,
            links=core.pipeline.config.notifications.links,
        )
    worker = Worker(app, loglevel=settings.log_level.lower(), quiet=True, redirect_stdouts=False)
    for noisy in ("kafka", "aiokafka"):  # client chatter drowns the monitor's own lines
        logging.getLogger(noisy).setLevel(logging.WARNING)
    worker.execute_from_commandline()


__all__ = ["KIND_BY_ROLE", "WorkerCore", "create_app", "run_worker"]
