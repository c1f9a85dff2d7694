"""The core pipeline: raw bytes -> validation -> hourly windows -> series -> detectors -> alerts.

One object, explicit state, no I/O of its own: runners feed it bytes and decide where dead
letters, tickets and notifications go. The embedded runner and the Faust app both drive
this class, so there is exactly one implementation of the monitor's logic.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import islice

from alerts.notify.messages import number
from alerts.notify.outbox import wall_ms
from alerts.policy.incidents import CAPACITY
from alerts.policy.service import AlertService
from alerts.taxonomy import kpi_counts_arrivals, kpi_of
from detectors import load_statistics
from detectors.timeaxis import DAY_MS, HOUR_MS, WEEK_HOURS, to_iso
from monitor.config.model import MonitorConfig
from monitor.config.reload import ConfigWatcher
from monitor.detection.hourly_file import HourlySeries
from monitor.detection.sites import Departure, SiteLedger, silent_sites
from monitor.detection.store import SeriesStore
from monitor.detection.tick import TickResult, scan, tick
from monitor.events.deadletters import DeadLetter, DeadLetterSink, Reason, unreadable
from monitor.events.decoding import ValidEvent
from monitor.events.parsing import TooLarge, check_record, check_records
from monitor.events.schemas import RegionInfo
from monitor.windows.aggregation import (
    HOUR_OF,
    HourlyAggregate,
    HourlyAggregator,
    Outcome,
    RegionWindows,
    WindowConfig,
    time_field,
    time_out_of_bounds,
)
from monitor.windows.stream_clock import VOUCHING_EVENTS, Held, StreamClock

log = logging.getLogger("yujing.pipeline")
RESTORE_CHUNK = 10_000  # hourly records written to the series at a time


MAX_SCAN_HOURS = WEEK_HOURS - 1
# replays: events fed while the newest event time stays in one hour before the windows are
# polled anyway. Two exports replayed one after the other (complaints, then KPIs): during
# the second the newest time stands at the first's end, and every hour closed at once at
# the replay's end, after the series' history had moved past most of them.
STILL_EVENTS = 20_000
# replays: how far behind the stream's newest event a region that closes no hour (its feed
# stopped) can hold the other regions' judging back
LEFT_BEHIND_MS = DAY_MS
# replays read in time order: an input (or a whole region) silent this long by the stream's
# own clock is idle, as ``windows.idle_input_seconds`` of wall clock makes it live
REPLAY_IDLE_MS = DAY_MS


# an event ``feed`` took: what ``ingest`` needs of it once the stream's clock admits it
Fed = tuple[ValidEvent | RegionInfo, bytes, str, int | None]


def replay_clock(hour: int) -> int:
    """In a replay, 'now' is the moment the judged hour closed."""
    return hour + HOUR_MS


MAX_SAID = 300  # characters of a dead letter's detail kept in the stats


@dataclass
class PipelineStats:
    events_in: int = 0
    accepted: int = 0
    late_accepted: int = 0  # into an hour already emitted (it is corrected)
    readings: int = 0  # accepted complaints and KPI readings (a report holds many)
    duplicates: int = 0
    dead_lettered: Counter[str] = field(default_factory=Counter)
    # the first dead letter's detail of each reason (a closed set: bounded), for a person
    # reading a run's summary: "unknown_region=2" alone did not say what to do
    first_said: dict[str, str] = field(default_factory=dict)
    closed: int = 0  # hourly aggregates the windows emitted
    aggregates: int = 0  # of them, applied to the series (and judged, or waiting)
    corrections: int = 0
    ticks: int = 0
    findings: int = 0
    muted: int = 0
    last_judged_hour: int | None = None


@dataclass
class PipelineHooks:
    """Listeners a runner or an observer subscribes with ``Pipeline.observe``."""

    aggregate: list[Callable[[HourlyAggregate], None]] = field(default_factory=list)
    tick: list[Callable[[TickResult], None]] = field(default_factory=list)
    timing: list[Callable[[str, float], None]] = field(default_factory=list)  # stage, seconds


class Pipeline:
    """The monitor's logic from raw record to alert policy; both runners drive this class.

    Seams for runners: ``validate`` (raw bytes to an event or a dead letter), ``ingest``
    (an event into its region's windows), ``close`` (hours the watermarks passed),
    ``apply`` (series, detectors, alerts), ``observe`` (listeners), ``maybe_reload`` and
    ``restore`` (series and alert state after partitions move). ``feed`` is the first
    three in one call, for a runner that reads records in order (the embedded one).
    """

    def __init__(
        self,
        config: MonitorConfig,
        alerts: AlertService,
        dead_letters: DeadLetterSink,
        clock: Callable[[int], int] = replay_clock,
        watcher: ConfigWatcher | None = None,
        live: bool = False,
        batch_ticks: bool = False,
        scan_hours: int = 24,
        window_loader: Callable[[str], dict[str, object] | None] | None = None,
        wall_clock: Callable[[], int] = wall_ms,
    ) -> None:
        load_statistics()  # now, not in the first hour judged
        self.config = config
        # replays: judge an hour once every region has closed it, all regions in one tick
        # (detectors treat rows alone, so this changes speed, never findings)
        self.batch_ticks = batch_ticks
        self._pending: dict[int, set[str]] = {}
        self._backlog: dict[int, set[str]] = {}  # live, behind its input: see ``apply``
        # closed hours whose site means wait for their hour to be judged: the ledger folds
        # each hour in as it is judged, so a ticket names the sites of its own hour (a
        # catch-up, or a region whose input runs ahead, closes later hours first)
        self._unfolded: dict[int, list[HourlyAggregate]] = {}
        # complaint counts of the hours applied, written when they are judged
        self._counts: list[tuple[str, int, Mapping[str, int]]] = []
        self.watcher = watcher
        self.live = live
        self.alerts = alerts
        # a recovery message tells the series' value at the hour it recovered; a network
        # ticket names the sites that left their usual level
        alerts.reading = lambda region, metric, hour: self.series.value_at(region, metric, hour)
        alerts.sites = self.sites_to_inspect
        self.site_ledger = SiteLedger(self._worse(config))
        # each region's newest closed hour, what its gauges show; rebuilt with the series
        # when the partitions move, so a new owner shows a region before it speaks again
        self.latest: dict[str, HourlyAggregate] = {}
        self.dead_letters = dead_letters
        self.clock = clock
        self.wall_clock = wall_clock  # bounds event times, in replays as live
        self.hooks = PipelineHooks()
        self.aggregator = HourlyAggregator(
            config.windows.to_window_config(live=live), loader=window_loader
        )
        # hourly replays judge ``scan_hours`` hours per detector call: the store keeps the
        # history of the first of them; under a week, so the hours a week-old baseline
        # leaves out (flagged after each hour is judged) are flagged before it is read
        if not 1 <= scan_hours <= MAX_SCAN_HOURS:
            raise ValueError(f"scan_hours must be 1..{MAX_SCAN_HOURS}, got {scan_hours}")
        self.scan_hours = scan_hours
        self.series = self._new_series(config.metrics_needed())
        self.stats = PipelineStats()
        self._next_check = 0  # advance when the newest event time crosses an hour
        self._unchecked = 0  # events fed since the last advance (``STILL_EVENTS``)
        # ``feed``'s events (a replay's) wait for the stream's own clock: see stream_clock
        self.stream_clock: StreamClock[Fed] = StreamClock(self.aggregator.config.max_future_ms)
        self.in_time_order = False  # ``follow_stream_clock``

    @staticmethod
    def _worse(config: MonitorConfig) -> dict[str, str]:
        return {k.name: k.worse for k in config.vocabulary.kpis}

    def sites_to_inspect(self, region: str, metric: str, spec: str, hour: int) -> tuple[str, ...]:
        """The sites a network ticket on ``metric`` names: those whose reading of its KPI
        left their usual standing among the region's sites, furthest first, each with the
        region's median of the hour beside it. For complaints: of the KPIs the finding's
        spec reads beside them (a capacity shortage's utilisation: its ticket named the
        site whose packet loss had risen), or of any KPI. A capacity shortage names the
        sites hottest in its judged ``hour``, usual or not."""
        kpi = kpi_of(metric)
        kpis = None if kpi is None else [kpi]
        if kpis is None:
            read = next((d for d in self.config.detectors if d.id == spec), None)
            context = read.instance.context_metrics() if read else []
            beside = [k for m in context if (k := kpi_of(m))]
            kpis = beside or None
            if read is not None and read.detector == CAPACITY and beside:
                return self._named(self.site_ledger.hottest(region, beside[0], hour))
        if kpi_counts_arrivals(metric):  # a dead feed: the sites it stopped coming from
            return silent_sites(self.site_ledger.silent(region, hour, kpis), self.config.zone)
        return self._named(self.site_ledger.departures(region, kpis))

    def _named(self, departures: list[Departure]) -> tuple[str, ...]:
        """Each site as a ticket names it: its mean of the hour, the median of the region's
        sites beside it (a capacity ticket's "why" gives the region's max: both are said
        by name, or the two numbers read as one disagreeing with the other)."""
        units = self.config.notifications.units  # the taxonomy's, as messages show them
        return tuple(
            f"{d.site} (mean {d.kpi} {number(d.now, units.get(d.kpi, ''))}, the region's "
            f"sites' median {number(d.median, units.get(d.kpi, ''))})"
            for d in departures
        )

    def _new_series(self, metrics: list[str]) -> SeriesStore:
        history = max((spec.instance.history_hours() for spec in self.config.detectors), default=1)
        return SeriesStore(metrics, history_hours=max(history, 24) + max(self.scan_hours, 24))

    def observe(
        self,
        *,
        aggregate: Callable[[HourlyAggregate], None] | None = None,
        tick: Callable[[TickResult], None] | None = None,
        timing: Callable[[str, float], None] | None = None,
    ) -> None:
        """Subscribe to emitted aggregates, judged hours and stage timings."""
        for listeners, listener in (
            (self.hooks.aggregate, aggregate),
            (self.hooks.tick, tick),
            (self.hooks.timing, timing),
        ):
            if listener is not None:
                listeners.append(listener)

    def _timed(self, stage: str, started: float) -> None:
        if self.hooks.timing:
            seconds = time.perf_counter() - started
            for listener in self.hooks.timing:
                listener(stage, seconds)

    # -- input ------------------------------------------------------------------------
    def feed(
        self,
        raw: bytes | TooLarge,
        *,
        kind: str | None = None,
        source: str = "",
        offset: int | None = None,
    ) -> None:
        """Take one raw event (or what a reader kept of one too large to read whole);
        never raises for bad input (it becomes a dead letter).

        Its time is bounded by the wall clock, and then by the stream's own (``settle``
        when the input pauses, ``finish`` at its end)."""
        event = self.validate(raw, kind=kind, source=source, offset=offset)
        if event is None:
            return
        if event.type == "region":
            self._take(event, raw, source, offset)
            return
        last = event.event_time
        config, wall = self.aggregator.config, self.wall_clock()
        bad = time_out_of_bounds(event, last, config, wall, raw, source, offset)
        if bad is not None:
            self.dead_letter(bad)
            return
        clock = self.stream_clock
        for fed in clock.offer(last, event.region, (event, raw, source, offset), len(raw)):
            self._take(*fed)
        if clock.refused:
            self._refuse_held(clock.refused)
            clock.refused = []

    def settle(self) -> None:
        """The input paused (a request or a file ended, more may come): what waited for
        the stream's clock to start is taken."""
        for fed in self.stream_clock.settle():
            self._take(*fed)

    def follow_stream_clock(self) -> None:
        """The replay's input is in time order (a file, sorted if it had to be): inputs and
        regions silent for ``REPLAY_IDLE_MS`` of the stream's own time are idle, as live.
        A region whose export stopped, or only its KPIs, then has its hours closed and
        judged empty (a silence ticket) instead of at the replay's end, after the series'
        history had moved past them. Not for input in any other order: complaints then
        KPIs through a pipe would find the KPI input idle, and every KPI late."""
        self.in_time_order = True
        self.aggregator.reconfigure(self._window_config(self.config))

    def _window_config(self, config: MonitorConfig) -> WindowConfig:
        windows = config.windows.to_window_config(live=self.live)
        if self.in_time_order and not self.live:
            windows = replace(windows, idle_ms=REPLAY_IDLE_MS)
        return windows

    def _take(
        self, event: ValidEvent | RegionInfo, raw: bytes, source: str, offset: int | None
    ) -> None:
        now = self.stream_clock.now if self.in_time_order else None
        if self.ingest(event, raw, source, now=now, offset=offset, bounded=True) is None:
            return
        mark = self.aggregator.max_event_time
        self._unchecked += 1
        if mark is not None and mark >= self._next_check:
            self._next_check = mark - mark % HOUR_MS + HOUR_MS
        elif self._unchecked < STILL_EVENTS:
            return
        self._unchecked = 0
        self.advance()

    def _refuse_held(self, refused: Iterable[Held[Fed]]) -> None:
        """Dead letters for events far ahead of the stream that no others came near (a
        clock set wrong, a mistyped year), or that the full hold had to let go."""
        now = self.stream_clock.now
        for held in refused:
            event, raw, source, offset = held.item
            field = time_field(event)  # type: ignore[arg-type]
            newest = held.time if now is None else now
            detail = (
                f"{field} {to_iso(held.time)} is {_span(held.time - newest)} past this "
                f"replay's newest event ({to_iso(newest)}), and fewer than {VOUCHING_EVENTS} "
                "others came near it to vouch for the jump: a clock set wrong? A replay takes "
                "events up to windows.max_future_minutes past its newest"
            )
            self.dead_letter(DeadLetter(Reason.BAD_TIME, detail, raw, field, source, offset))

    def validate(
        self,
        raw: bytes | TooLarge,
        *,
        kind: str | None = None,
        source: str = "",
        offset: int | None = None,
        received: bool = True,
    ) -> ValidEvent | RegionInfo | None:
        """Parse one raw record: the event, or None after handing its dead letter to the
        sink. ``received=False``: an earlier stage counted the record already (a worker's
        aggregation re-reads what its intake validated)."""
        self.stats.events_in += received
        parsed = check_record(
            raw, kind=kind, source=source, offset=offset, taxonomy=self.config.vocabulary
        )
        if isinstance(parsed, DeadLetter):
            self.dead_letter(parsed)
            return None
        return parsed

    def validate_many(
        self,
        records: Sequence[bytes],
        *,
        kind: str | None = None,
        source: str = "",
        offsets: Sequence[int | None] | None = None,
        received: bool = True,
    ) -> list[ValidEvent | RegionInfo | None]:
        """``validate`` of each record of a batch from one source, in one loop (what a
        worker's intake does with a batch, ``check_records``)."""
        self.stats.events_in += len(records) if received else 0
        checked = check_records(
            records, kind=kind, source=source, offsets=offsets, taxonomy=self.config.vocabulary
        )
        out: list[ValidEvent | RegionInfo | None] = []
        for parsed in checked:
            if isinstance(parsed, DeadLetter):
                self.dead_letter(parsed)
                parsed = None
            out.append(parsed)
        return out

    def ingest(
        self,
        event: ValidEvent | RegionInfo,
        raw: bytes = b"",
        source: str = "",
        position: tuple[str, int] | None = None,
        now: int | None = None,
        offset: int | None = None,
        bounded: bool = False,
    ) -> Outcome | None:
        """Add a valid event to its region's windows; None when it was dead-lettered (late,
        or a time outside what the config accepts by the wall clock).

        ``position`` (source partition, offset) lets a replay after a crash skip what the
        region's saved state already holds; ``now`` is a live runner's clock; ``offset``
        (a line) goes into a dead letter. ``bounded``: a worker's intake admitted the event's
        time already (by an earlier clock: a time within then is within now; a config
        reloaded between the two applies from the next admitted event).
        """
        wall = None if bounded else now if now is not None else self.wall_clock()
        try:
            outcome = self.aggregator.add(event, raw, source, position, now, wall, offset)
        except Exception as exc:  # noqa: BLE001 - per-record isolation: one record, one letter
            where = position[1] if position is not None else offset
            outcome = unreadable(exc, raw, source, where)
        if isinstance(outcome, DeadLetter):
            self.dead_letter(outcome)
            return None
        if outcome is Outcome.DUPLICATE:
            self.stats.duplicates += 1
            return outcome
        self.stats.accepted += 1
        self.stats.readings += event.readings
        if outcome is Outcome.LATE:
            self.stats.late_accepted += 1
        return outcome

    def set_subscribers(self, subscribers: dict[str, int]) -> None:
        """Reference data from outside the event stream (a worker's regions topic)."""
        self.aggregator.set_subscribers(subscribers)

    def close(self, now: int | None = None) -> list[HourlyAggregate]:
        """Hours the watermarks of the regions changed since the last ``close`` passed
        (a live worker's batch; ``now`` lets idle inputs stop holding hours open)."""
        return self._closed(self.aggregator.poll_changed(now))

    def close_silent(self, now: int) -> list[HourlyAggregate]:
        """Hours of regions silent on every input, closed as far as the stream has come (a
        live runner's timer: no event of theirs will close them)."""
        return self._closed(self.aggregator.close_silent(now))

    def _closed(self, aggregates: list[HourlyAggregate]) -> list[HourlyAggregate]:
        self.stats.closed += len(aggregates)
        return aggregates

    @property
    def hours_to_judge(self) -> int:
        """Hours closed and applied that wait to be judged (a catch-up's backlog)."""
        return len(self._backlog) + len(self._pending)

    @property
    def changed_regions(self) -> list[str]:
        """Regions whose windows changed since ``take_changed_windows``."""
        return self.aggregator.touched

    def take_changed_windows(self) -> dict[str, RegionWindows]:
        """Window state changed since the last call, for a runner that persists it."""
        return self.aggregator.take_touched()

    def drop_unsaved(self) -> None:
        """Forget what the input since the runner's last save made: the window state (each
        region reloads what was saved), the hours kept back to judge and their complaint
        counts (the input, read again, closes those hours again). For a runner whose
        batch failed half-way."""
        self.aggregator.forget()
        self._backlog = {}
        self._counts = []

    def dead_letter(self, letter: DeadLetter) -> None:
        """Count and keep a record refused before it reached ``feed`` (e.g. a request
        body an adapter could not decode)."""
        self.stats.dead_lettered[letter.reason.value] += 1
        self.stats.first_said.setdefault(letter.reason.value, letter.detail[:MAX_SAID])
        self.dead_letters.put(letter)

    # -- time -------------------------------------------------------------------------
    def advance(self, until: int | None = None) -> list[HourlyAggregate]:
        """Emit what the watermarks closed, update series, judge each newly closed hour."""
        now = self.stream_clock.now if self.in_time_order else None
        closed = self.aggregator.poll(until=until, now=now)
        if now is not None and until is None:  # (silent regions, by the stream's clock)
            mark = now - self.aggregator.config.watermark_delay_ms
            closed = sorted([*closed, *self.aggregator.close_silent(now, mark)], key=HOUR_OF)
        return self.apply(self._closed(closed))

    def reload(self, config: MonitorConfig) -> list[str]:
        """Swap in a validated config: detectors, mutes, alert policy and window settings.

        Window state and series history are kept. Returns the metrics no spec watched
        before: they start with no history (a worker refills it with ``restore``).
        """
        self.config = config
        self.site_ledger.worse = self._worse(config)
        self.alerts.reconfigure(config.alerts, config.notifications)
        self.aggregator.reconfigure(self._window_config(config))
        self.stream_clock.reconfigure(self.aggregator.config.max_future_ms)
        return self.series.add_metrics(config.metrics_needed())

    def maybe_reload(self) -> list[str] | None:
        """Apply the watcher's changed, valid config: None if nothing changed, else the
        newly watched metrics."""
        if self.watcher is None:
            return None
        config = self.watcher.check()
        if config is None:
            return None
        return self.reload(config)

    def restore(self, aggregates: Iterable[HourlyAggregate]) -> int:
        """Start over from durable records (a worker's partitions moved): the series from
        the hourly aggregates given, the alert policy from the open tickets. Window state
        is reloaded region by region from the runner's loader."""
        self.aggregator.forget()
        self.series = self._new_series(
            sorted(set(self.series.metrics) | set(self.config.metrics_needed()))
        )
        self.site_ledger = SiteLedger(self._worse(self.config))
        self._unfolded = {}
        self.latest = {}
        n = 0
        records = iter(aggregates)
        while chunk := list(islice(records, RESTORE_CHUNK)):
            self.series.update_many(chunk)
            for aggregate in chunk:
                self.site_ledger.record(aggregate)
                self._keep_latest(aggregate)
            n += len(chunk)
        self.alerts.restore()
        return n

    def _keep_latest(self, aggregate: HourlyAggregate) -> None:
        seen = self.latest.get(aggregate.region)
        if seen is None or aggregate.hour >= seen.hour:  # a correction replaces its hour
            self.latest[aggregate.region] = aggregate

    def apply(
        self, aggregates: list[HourlyAggregate], behind: bool = False
    ) -> list[HourlyAggregate]:
        """Series and detection for emitted aggregates (the Faust runner calls this too).

        Hours are judged in order, each for the regions that closed (or corrected) it;
        detectors treat each series alone, so grouping regions never changes a finding.
        ``behind``: the runner's input holds more (a catch-up): the hours wait in a
        backlog, up to ``scan_hours`` of them, and are judged together by ``scan`` (one
        tick per hour of a catch-up cost as much as the rest of the worker's work); the
        runner calls ``judge_backlog`` before it makes its progress durable.
        """
        started = time.perf_counter()
        self.maybe_reload()  # a changed config applies from the next evaluation on
        closed: dict[int, set[str]] = {}
        self.series.update_many(aggregates)
        for aggregate in aggregates:
            if aggregate.site_means:
                self._unfolded.setdefault(aggregate.hour, []).append(aggregate)
            self._keep_latest(aggregate)
            self.stats.aggregates += 1
            if aggregate.revision:
                self.stats.corrections += 1
            # a correction is judged again: a late event may be what makes the hour anomalous
            closed.setdefault(aggregate.hour, set()).add(aggregate.region)
            for listener in self.hooks.aggregate:
                listener(aggregate)
        # the monthly review's complaint volume, written before the hours are judged (a
        # catch-up's batches: with the backlog, one write for them all instead of one
        # transaction per batch, a third of what applying a batch cost)
        self._counts.extend((a.region, a.hour, a.complaints) for a in aggregates if a.complaints)
        if not self.batch_ticks:
            for hour, regions in closed.items():
                self._backlog.setdefault(hour, set()).update(regions)
            if not behind or self._backlog_hours() >= self.scan_hours:
                self.judge_backlog()
        else:
            for hour, regions in closed.items():
                self._pending.setdefault(hour, set()).update(regions)
            self._judge_pending(self._low_watermark())
        if aggregates:
            self._timed("apply", started)
        return aggregates

    def _backlog_hours(self) -> int:
        backlog = self._backlog
        return (max(backlog) - min(backlog)) // HOUR_MS + 1 if backlog else 0

    def judge_backlog(self) -> None:
        """Judge the hours ``apply`` kept back while the runner was behind, in order."""
        self._write_counts()
        try:
            if self._backlog:
                self._judge_runs(self._backlog)
        finally:  # (emptied after: ``hours_to_judge`` counts them until they are judged)
            self._backlog = {}

    def _low_watermark(self) -> int | None:
        """The first hour some region has not closed yet (replays judge up to there), but
        never more than ``LEFT_BEHIND_MS`` behind the stream's newest event. A region whose
        export stopped, or only its KPIs, closed no hour again and held every other region's
        hours back to the replay's end: the hours to judge grew without bound, and outlived
        the series' history in a long replay. A region left behind has its own hours judged
        as they close."""
        opens = [s.next_close for s in self.aggregator.regions.values() if s.next_close is not None]
        if not opens:
            return None
        newest = self.aggregator.max_event_time
        if newest is None:
            return min(opens)
        return max(min(opens), newest - newest % HOUR_MS - LEFT_BEHIND_MS)

    def _write_counts(self) -> None:
        counts, self._counts = self._counts, []
        if counts:
            self.alerts.store.record_complaints(counts)

    def _judge_pending(self, before: int | None) -> None:
        self._write_counts()
        for hour in sorted(self._pending):
            if before is not None and hour >= before:
                break
            self.judge(hour, self._pending.pop(hour))

    def _judge_runs(self, closed: dict[int, set[str]]) -> None:
        """Judge closed hours in order. A run of consecutive hours (a worker catching up
        on a backlog) is judged by one ``scan`` per ``scan_hours``, as a replay is: the
        findings of one tick per hour, at a fraction of the cost, so a live hour does not
        wait seconds behind the catch-up. The regions that closed may differ from hour to
        hour (a batch ends inside an hour): the run scans every region that closed any of
        its hours, and each hour keeps the findings of the regions that closed it (a
        detector judges each series on its own, so the others change nothing)."""
        hours = sorted(closed)
        i = 0
        while i < len(hours):
            j = i + 1
            while j < len(hours) and j - i < self.scan_hours and hours[j] == hours[j - 1] + HOUR_MS:
                j += 1
            if j - i == 1:
                self.judge(hours[i], closed[hours[i]])
            else:
                self._scan_run(hours[i], hours[j - 1], {h: closed[h] for h in hours[i:j]})
            i = j

    def _scan_run(self, first_hour: int, last_hour: int, closed: dict[int, set[str]]) -> None:
        """Judge every hour of a run with one ``scan``, then conclude each in order (the
        alert policy sees them one by one) in one ticket transaction; ``closed``: the
        regions judged at each hour."""
        started = time.perf_counter()
        regions = set().union(*closed.values())
        results = [
            result.of_regions(closed[result.hour])
            for result in scan(self.config, self.series, first_hour, last_hour, regions)
        ]
        share = (time.perf_counter() - started) / max(len(results), 1)
        with self.alerts.store.batch():
            for result in results:
                self._conclude(result, time.perf_counter() - share)

    def judge(self, hour: int, regions: set[str] | None = None) -> TickResult:
        started = time.perf_counter()
        return self._conclude(tick(self.config, self.series, hour, regions), started)

    def replay_series(self, series: HourlySeries) -> int:
        """Judge hourly data (no raw events): every hour of every region, in order.

        The series go into the store a block at a time and each block's hours are judged
        by one ``scan`` (the findings of one tick per hour, for a fraction of the cost);
        then the alert policy sees the hours one by one, as it would live. Returns the
        number of region-hours.
        """
        self.maybe_reload()
        for block in series.blocks(self.scan_hours):
            self.series.write_block(block.regions, block.first_hour, block.values)
            self.stats.aggregates += len(block.regions) * block.hours
            regions = set(block.regions)
            self._scan_run(
                block.first_hour,
                block.last_hour,
                {block.first_hour + i * HOUR_MS: regions for i in range(block.hours)},
            )
        return len(series.regions) * series.hours

    def _conclude(self, result: TickResult, started: float) -> TickResult:
        """Mutes, counters and the alert policy for one judged hour."""
        hour = result.hour
        self._fold_sites(hour)
        self._flag_anomalous(result)
        if self.config.mutes:
            kept = [
                sf
                for sf in result.findings
                if self.config.muted(sf.finding.region, sf.finding.metric, hour) is None
            ]
            self.stats.muted += len(result.findings) - len(kept)
            result = TickResult(hour=result.hour, regions=result.regions, findings=kept)
        self.stats.ticks += 1
        self.stats.findings += len(result.findings)
        last = self.stats.last_judged_hour
        self.stats.last_judged_hour = hour if last is None else max(last, hour)
        self.alerts.handle(result, self.clock(hour))
        self._timed("tick", started)
        for listener in self.hooks.tick:
            listener(result)
        return result

    def _fold_sites(self, hour: int) -> None:
        """Fold the site means of the hours up to ``hour`` into the ledger, in order."""
        unfolded = self._unfolded
        for held in sorted(h for h in unfolded if h <= hour):
            for aggregate in unfolded.pop(held):
                self.site_ledger.record(aggregate)

    def _flag_anomalous(self, result: TickResult) -> None:
        """Flag the hour of every series that fired (muted or not) or whose ticket is still
        firing: week-over-week baselines leave those hours out."""
        for sf in result.findings:
            self.series.flag(sf.finding.region, sf.finding.metric, result.hour)
        for incident in self.alerts.policy.active.values():
            if not incident.recovered and incident.region in result.regions:
                self.series.flag(incident.region, incident.metric, result.hour)

    def finish(self) -> list[HourlyAggregate]:
        """End of a finite replay: close every hour that has data."""
        self.settle()
        refused = self.stream_clock.finish()
        if refused:
            self._refuse_held(refused)
        agg = self.aggregator
        if agg.max_event_time is None:
            return []
        end = agg.max_event_time - agg.max_event_time % HOUR_MS + HOUR_MS
        out = self.advance(until=end)
        self.flush_ticks()
        return out

    def flush_ticks(self) -> None:
        """Judge every hour still waiting for slower regions (end of a replay)."""
        self._judge_pending(None)


def _span(ms: int) -> str:
    """A time ahead, in the unit a person reads it in."""
    hours = ms / HOUR_MS
    return f"{hours:,.1f} h" if hours < 48 else f"{hours / 24:,.1f} days"
