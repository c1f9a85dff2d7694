"""Backtest: replay history through the same aggregation, detectors and alert policy.

Nothing here re-implements the pipeline: it runs the embedded runner on the events and
listens to its ticks. What it adds is scoring: per detector and overall, the findings,
the tickets that would open, precision and recall against labelled incidents, the mean
detection delay and false alarms per region-week.
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from alerts.findings import SpecFinding
from alerts.tickets.view import TicketView
from detectors.timeaxis import HOUR_MS, WEEK_HOURS, WEEK_MS
from monitor.config.model import MonitorConfig
from monitor.detection.hourly_file import HourlySeries
from monitor.lab.scorecard import GRACE_HOURS, Scorecard, concerns, matches, score
from monitor.lab.simulate_events import Label
from monitor.runners.embedded import build, run_lines, run_series
from monitor.windows.aggregation import HourlyAggregate


@dataclass
class DetectorScore:
    detector: str
    findings: int = 0
    series: int = 0  # distinct (region, metric) it fired on
    caught: dict[str, float] = field(default_factory=dict)  # label id -> first delay (h)
    false_series: int = 0  # series it fired on that match no incident

    def precision(self) -> float | None:
        return None if not self.series else (self.series - self.false_series) / self.series

    def to_json(self, labels: int) -> dict[str, object]:
        delays = list(self.caught.values())
        return {
            "detector": self.detector,
            "findings": self.findings,
            "series_fired": self.series,
            "incidents_caught": len(self.caught),
            "recall": len(self.caught) / labels if labels else None,
            "precision": self.precision(),
            "mean_delay_hours": sum(delays) / len(delays) if delays else None,
            "delays": self.caught,
        }


@dataclass
class BacktestResult:
    name: str
    scorecard: Scorecard
    tickets: list[TicketView]
    detectors: dict[str, DetectorScore]
    region_weeks: float
    seconds: float
    aggregates: dict[tuple[str, str], list[tuple[int, float]]]  # (region, metric) -> points
    findings: list[SpecFinding]

    @property
    def false_alarms_per_region_week(self) -> float:
        return len(self.scorecard.false_alarms) / self.region_weeks if self.region_weeks else 0.0

    def precision(self) -> float | None:
        n = len(self.tickets)
        return None if not n else (n - len(self.scorecard.false_alarms)) / n

    def recall(self) -> float | None:
        n = len(self.scorecard.incidents)
        return None if not n else sum(i.caught for i in self.scorecard.incidents) / n

    def mean_delay(self) -> float | None:
        delays = [i.delay_hours for i in self.scorecard.incidents if i.delay_hours is not None]
        return sum(delays) / len(delays) if delays else None

    def to_json(self) -> dict[str, object]:
        return {
            "config": self.name,
            "seconds": round(self.seconds, 2),
            "tickets": len(self.tickets),
            "precision": self.precision(),
            "recall": self.recall(),
            "mean_delay_hours": self.mean_delay(),
            "false_alarms": len(self.scorecard.false_alarms),
            "false_alarms_per_region_week": self.false_alarms_per_region_week,
            "scorecard": self.scorecard.to_json(),
            "detectors": {
                name: d.to_json(len(self.scorecard.incidents))
                for name, d in sorted(self.detectors.items())
            },
        }


def run_backtest(
    config: MonitorConfig,
    lines: Iterable[bytes],
    labels: list[Label],
    name: str = "config",
    keep_series: set[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> BacktestResult:
    """Replay raw event ``lines`` with ``config``; score against ``labels``."""
    findings: list[SpecFinding] = []
    points: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    hours_seen: set[int] = set()
    regions: set[str] = set()
    wanted = keep_series if keep_series is not None else set()

    def on_aggregate(agg: HourlyAggregate) -> None:
        hours_seen.add(agg.hour)
        regions.add(agg.region)
        if wanted:
            values = agg.metrics()
            for metric in wanted:
                points[(agg.region, metric)].append((agg.hour, values.get(metric, float("nan"))))

    with tempfile.TemporaryDirectory() as tmp:
        run = build(config, f"sqlite:///{Path(tmp) / 'backtest.db'}")
        run.pipeline.observe(tick=lambda result: findings.extend(result.findings))
        run.pipeline.observe(aggregate=on_aggregate)
        run_lines(run, lines, progress=progress)
        tickets = run.tickets.all()
        run.tickets.close()
    span = (max(hours_seen) - min(hours_seen) + HOUR_MS) if hours_seen else 0
    return _scored(
        name, labels, tickets, findings, len(regions) * span / WEEK_MS, run.seconds, dict(points)
    )


def run_backtest_series(
    config: MonitorConfig,
    series: HourlySeries,
    labels: list[Label],
    name: str = "config",
    keep_series: set[str] | None = None,
    db_url: str | None = None,
    scan_hours: int = WEEK_HOURS,
) -> BacktestResult:
    """Judge hourly data with ``config`` (months of it, without the raw events); score it."""
    findings: list[SpecFinding] = []
    with tempfile.TemporaryDirectory() as tmp:
        run = build(
            config, db_url or f"sqlite:///{Path(tmp) / 'backtest.db'}", scan_hours=scan_hours
        )
        run.pipeline.observe(tick=lambda result: findings.extend(result.findings))
        run_series(run, series)
        tickets = run.tickets.all()
        run.tickets.close()
    points: dict[tuple[str, str], list[tuple[int, float]]] = {}
    hours = [series.first_hour + j * HOUR_MS for j in range(series.hours)]
    for metric in sorted(keep_series or ()):
        values = series.values.get(metric)
        if values is not None:
            for i, region in enumerate(series.regions):
                points[(region, metric)] = list(zip(hours, values[i].tolist(), strict=True))
    region_weeks = len(series.regions) * series.hours * HOUR_MS / WEEK_MS
    return _scored(name, labels, tickets, findings, region_weeks, run.seconds, points)


def _scored(
    name: str,
    labels: list[Label],
    tickets: list[TicketView],
    findings: list[SpecFinding],
    region_weeks: float,
    seconds: float,
    points: dict[tuple[str, str], list[tuple[int, float]]],
) -> BacktestResult:
    card = score(labels, tickets, grace_hours=GRACE_HOURS)
    detectors: dict[str, DetectorScore] = {}
    fired: dict[str, set[tuple[str, str]]] = defaultdict(set)
    for sf in findings:
        f = sf.finding
        d = detectors.setdefault(f.detector, DetectorScore(f.detector))
        d.findings += 1
        fired[f.detector].add((f.region, f.metric))
        for label in labels:
            if matches(label, f.region, f.metric, f.hour):
                delay = (f.hour + HOUR_MS - label.start) / HOUR_MS
                d.caught[label.id] = min(delay, d.caught.get(label.id, delay))
    for det, series in fired.items():
        d = detectors[det]
        d.series = len(series)
        d.false_series = sum(
            1
            for region, metric in series
            if not any(concerns(lab, region, metric) for lab in labels)
        )
    return BacktestResult(
        name=name,
        scorecard=card,
        tickets=tickets,
        detectors=detectors,
        region_weeks=region_weeks,
        seconds=seconds,
        aggregates=points,
        findings=findings,
    )


@dataclass
class Comparison:
    a: BacktestResult
    b: BacktestResult

    def only_caught_by(self) -> tuple[list[str], list[str]]:
        caught_a = {i.id for i in self.a.scorecard.incidents if i.caught}
        caught_b = {i.id for i in self.b.scorecard.incidents if i.caught}
        return sorted(caught_a - caught_b), sorted(caught_b - caught_a)

    def to_json(self) -> dict[str, object]:
        only_a, only_b = self.only_caught_by()
        return {
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            f"only_{self.a.name}": only_a,
            f"only_{self.b.name}": only_b,
        }
