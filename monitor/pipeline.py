"""The core pipeline: raw bytes -> validation -> hourly windows -> series -> detectors -> alerts.

One object, explicit state, no I/O of its own: runners feed it bytes and decide where dead
letters, tickets and notifications go. The embedded runner and the Faust app both drive
this class, so there is exactly one implementation of the monitor's logic.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from alerts.policy.service import AlertService
from detectors.timeaxis import HOUR_MS
from monitor.config.model import MonitorConfig
from monitor.config.reload import ConfigWatcher
from monitor.detection.hourly_file import HourlySeries
from monitor.detection.store import SeriesStore
from monitor.detection.tick import TickResult, scan, tick
from monitor.events.deadletters import DeadLetter, DeadLetterSink
from monitor.events.parsing import parse_event
from monitor.windows.aggregation import HourlyAggregate, HourlyAggregator, Outcome

log = logging.getLogger("yujing.pipeline")


def replay_clock(hour: int) -> int:
    """In a replay, 'now' is the moment the judged hour closed."""
    return hour + HOUR_MS


@dataclass
class PipelineStats:
    events_in: int = 0
    accepted: int = 0
    late_accepted: int = 0  # into an hour already emitted (it is corrected)
    readings: int = 0  # accepted complaints and KPI readings (a report holds many)
    duplicates: int = 0
    dead_lettered: Counter[str] = field(default_factory=Counter)
    aggregates: int = 0
    corrections: int = 0
    ticks: int = 0
    findings: int = 0
    muted: int = 0
    last_judged_hour: int | None = None


class Pipeline:
    def __init__(
        self,
        config: MonitorConfig,
        alerts: AlertService,
        dead_letters: DeadLetterSink,
        clock: Callable[[int], int] = replay_clock,
        on_aggregate: Callable[[HourlyAggregate], None] | None = None,
        on_tick: Callable[[TickResult], None] | None = None,
        watcher: ConfigWatcher | None = None,
        live: bool = False,
        batch_ticks: bool = False,
        scan_hours: int = 24,
    ) -> None:
        self.config = config
        # replays: judge an hour once every region has closed it, all regions in one tick
        # (detectors treat rows alone, so this changes speed, never findings)
        self.batch_ticks = batch_ticks
        self._pending: dict[int, set[str]] = {}
        self.watcher = watcher
        self.live = live
        self.alerts = alerts
        self.dead_letters = dead_letters
        self.clock = clock
        self.on_aggregate = on_aggregate
        self.on_tick = on_tick
        self.on_timing: Callable[[str, float], None] | None = None  # (stage, seconds)
        self.aggregator = HourlyAggregator(config.windows.to_window_config())
        history = max((spec.instance.history_hours() for spec in config.detectors), default=1)
        # hourly replays judge ``scan_hours`` hours per detector call: the store keeps the
        # history of the first of them
        self.scan_hours = scan_hours
        self.series = SeriesStore(
            config.metrics_needed(), history_hours=max(history, 24) + max(scan_hours, 24)
        )
        self.stats = PipelineStats()
        self._next_check = 0  # advance when the newest event time crosses an hour

    # -- input ------------------------------------------------------------------------
    def feed(
        self, raw: bytes, *, kind: str | None = None, source: str = "", offset: int | None = None
    ) -> None:
        """Take one raw event; never raises for bad input (it becomes a dead letter)."""
        self.stats.events_in += 1
        parsed = parse_event(raw, kind=kind, source=source, offset=offset)
        if isinstance(parsed, DeadLetter):
            self._dead(parsed)
            return
        outcome = self.aggregator.add(parsed, raw, source)
        if isinstance(outcome, DeadLetter):
            self._dead(outcome)
            return
        if outcome is Outcome.DUPLICATE:
            self.stats.duplicates += 1
            return
        self.stats.accepted += 1
        self.stats.readings += parsed.readings
        if outcome is Outcome.LATE:
            self.stats.late_accepted += 1
        mark = self.aggregator.max_event_time
        if mark is not None and mark >= self._next_check:
            self._next_check = mark - mark % HOUR_MS + HOUR_MS
            self.advance()

    def _dead(self, letter: DeadLetter) -> None:
        self.stats.dead_lettered[letter.reason.value] += 1
        self.dead_letters.put(letter)

    # -- time -------------------------------------------------------------------------
    def advance(self, until: int | None = None) -> list[HourlyAggregate]:
        """Emit what the watermarks closed, update series, judge each newly closed hour."""
        return self.apply(self.aggregator.poll(until=until))

    def reload(self, config: MonitorConfig) -> None:
        """Swap in a validated config: detectors, mutes, alert policy and window settings.

        Window state and series history are kept; a metric no spec watched before starts
        with the history the series store has for it (none, in the embedded runner).
        """
        self.config = config
        self.alerts.reconfigure(config.alerts, config.notifications)
        window_config = config.windows.to_window_config(live=self.live)
        self.aggregator.config = window_config
        for state in self.aggregator.regions.values():
            state.config = window_config
        self.series.add_metrics(config.metrics_needed())

    def maybe_reload(self) -> bool:
        if self.watcher is None:
            return False
        config = self.watcher.check()
        if config is None:
            return False
        self.reload(config)
        return True

    def apply(self, aggregates: list[HourlyAggregate]) -> list[HourlyAggregate]:
        """Series and detection for emitted aggregates (the Faust runner calls this too).

        Hours are judged in order, each for the regions that closed (or corrected) it in this
        call; detectors treat each series alone, so grouping regions never changes a finding.
        """
        started = time.perf_counter()
        self.maybe_reload()  # a changed config applies from the next evaluation on
        closed: dict[int, set[str]] = {}
        for aggregate in aggregates:
            self.series.update(aggregate)
            self.stats.aggregates += 1
            if aggregate.revision:
                self.stats.corrections += 1
            # a correction is judged again: a late event may be what makes the hour anomalous
            closed.setdefault(aggregate.hour, set()).add(aggregate.region)
            if self.on_aggregate is not None:
                self.on_aggregate(aggregate)
        if not self.batch_ticks:
            for hour in sorted(closed):
                self.judge(hour, closed[hour])
        else:
            for hour, regions in closed.items():
                self._pending.setdefault(hour, set()).update(regions)
            self._judge_pending(self._low_watermark())
        if aggregates and self.on_timing is not None:
            self.on_timing("apply", time.perf_counter() - started)
        return aggregates

    def _low_watermark(self) -> int | None:
        """The first hour some region has not closed yet (replays judge up to there)."""
        opens = [s.next_close for s in self.aggregator.regions.values() if s.next_close is not None]
        return min(opens) if opens else None

    def _judge_pending(self, before: int | None) -> None:
        for hour in sorted(self._pending):
            if before is not None and hour >= before:
                break
            self.judge(hour, self._pending.pop(hour))

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
            started = time.perf_counter()
            self.series.write_block(block.regions, block.first_hour, block.values)
            self.stats.aggregates += len(block.regions) * block.hours
            results = scan(
                self.config, self.series, block.first_hour, block.last_hour, set(block.regions)
            )
            share = (time.perf_counter() - started) / max(len(results), 1)
            with self.alerts.store.batch():
                for result in results:
                    self._conclude(result, time.perf_counter() - share)
        return len(series.regions) * series.hours

    def _conclude(self, result: TickResult, started: float) -> TickResult:
        """Mutes, counters and the alert policy for one judged hour."""
        hour = result.hour
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
        if self.on_timing is not None:
            self.on_timing("tick", time.perf_counter() - started)
        if self.on_tick is not None:
            self.on_tick(result)
        return result

    def finish(self) -> list[HourlyAggregate]:
        """End of a finite replay: close every hour that has data."""
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
