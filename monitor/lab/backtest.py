"""Backtest: replay history through the same aggregation, detectors and alert policy.

Nothing here re-implements the pipeline: it runs the embedded runner on the events and
listens to its ticks and notifications. What it adds is scoring against labels: the
tickets that would open, and every *detection* (a ticket opened, or a recovered ticket
firing again: what on-call would have been told) scored as NAB does and per event
(precision, recall, F1, false alarms per series-week, median delay), overall and per
detector.

It plays one of two NOCs and says which: ``staffed`` (recovered tickets stay open until a
person resolves them, so a later episode re-fires the same ticket) or ``unattended``
(recovered tickets resolve themselves, so a later episode opens a new one after the
cooldown).
"""

from __future__ import annotations

import tempfile
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson

from alerts.findings import SpecFinding, TickResult
from alerts.policy.notifiers import Notification
from alerts.tickets.view import TicketView
from detectors.timeaxis import HOUR_MS, WEEK_MS, to_iso
from monitor.config.model import MonitorConfig
from monitor.detection.hourly_file import HourlySeries
from monitor.lab.labels import KnownFalseAlarm, subject
from monitor.lab.scorecard import GRACE_HOURS, Scorecard, concerns, matches, score
from monitor.lab.scores import PROFILES, EventScores, ScoredSeries, event_scores, nab_score
from monitor.lab.simulate_events import Label
from monitor.pipeline import MAX_SCAN_HOURS, PipelineStats
from monitor.runners.embedded import build, run_file, run_lines, run_series
from monitor.runners.file_order import FileOrder
from monitor.windows.aggregation import HourlyAggregate

NOCS = ("staffed", "unattended")


@dataclass(frozen=True, slots=True)
class Detection:
    """An hour at whose close on-call would have been told of something new."""

    region: str
    metric: str
    detector: str
    hour: int
    event: str  # opened | refired
    ticket_id: int


class DetectionLog:
    """A notifier that keeps the detections (openings and re-fires) of a replay."""

    def __init__(self) -> None:
        self.detections: list[Detection] = []

    def send(self, notification: Notification) -> None:
        t = notification.ticket
        if notification.event == "opened":
            hour = t.first_hour
        elif notification.event == "refired":
            hour = t.last_fired_hour
        else:
            return
        # the detector whose finding this is: a ticket is its series', and a burst may
        # re-fire one a drop opened (the ticket's ``detector`` stays the opener's). A
        # finding on another series of the ticket's problem leaves no detector of its own
        # on the ticket (``observed_by`` is of the ticket's series): the opener's then
        fired_by = t.observed_by if t.observed_by and t.observed_hour == hour else t.detector
        self.detections.append(
            Detection(t.region, t.metric, fired_by, hour, notification.event, t.id)
        )


def playing(config: MonitorConfig, noc: str | None) -> tuple[MonitorConfig, str]:
    """The config as the chosen NOC runs it, and the NOC's name (default: what the
    config's ``alerts.auto_resolve`` says)."""
    if noc is None:
        return config, "unattended" if config.alerts.auto_resolve else "staffed"
    if noc not in NOCS:
        raise ValueError(f"noc must be one of {NOCS}, not {noc!r}")
    alerts = config.alerts.model_copy(update={"auto_resolve": noc == "unattended"})
    return config.model_copy(update={"alerts": alerts}), noc


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


def _ticket_json(ticket: TicketView) -> dict[str, object]:
    """What a person reviewing a backtest needs of a ticket: when it opened, on what, why."""
    return {
        "id": ticket.id,
        "opened_hour": to_iso(ticket.first_hour),
        "last_fired_hour": to_iso(ticket.last_fired_hour),
        "region": ticket.region,
        "metric": ticket.metric,
        "detector": ticket.detector,
        "department": ticket.department,
        "severity": ticket.severity,
        "state": ticket.state,
        "occurrences": ticket.occurrences,
        "explanation": ticket.explanation,
    }


def finding_lines(result: BacktestResult) -> Iterator[bytes]:
    """Every finding of a replay, one JSON line each, by hour: ``backtest --findings``."""
    for sf in sorted(result.findings, key=lambda f: (f.finding.hour, f.spec_id)):
        doc = {"spec": sf.spec_id, "severity": sf.severity, **sf.finding.to_json()}
        yield orjson.dumps({**doc, "hour": to_iso(sf.finding.hour)}) + b"\n"


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
    labels: list[Label] = field(default_factory=list)
    detections: list[Detection] = field(default_factory=list)
    hours: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    regions: list[str] = field(default_factory=list)
    noc: str = "staffed"
    # spec -> reason -> series not judged at the end
    unjudged: dict[str, dict[str, int]] = field(default_factory=dict)
    # labelled series (regions) the data has nothing of: left out of every score
    labels_left_out: list[str] = field(default_factory=list)
    # what the replay read of raw events (None for hourly data): a run whose events were
    # all dead-lettered showed "0 tickets" as if the config had found nothing
    intake: PipelineStats | None = None

    def scored_series(self, detections: list[Detection] | None = None) -> list[ScoredSeries]:
        """One scored series per region: its labelled events, and the detections that may
        belong to each (a detection on a metric no label of the region concerns can only
        be a false alarm)."""
        chosen = self.detections if detections is None else detections
        out = []
        for region in sorted(set(self.regions) | {lab.region for lab in self.labels}):
            labels = [lab for lab in self.labels if lab.region == region]
            out.append(
                ScoredSeries(
                    region,
                    self.hours,
                    [(lab.start, lab.end) for lab in labels],
                    [
                        (
                            d.hour,
                            frozenset(
                                k
                                for k, lab in enumerate(labels)
                                if concerns(lab, d.region, d.metric)
                            ),
                        )
                        for d in chosen
                        if d.region == region
                    ],
                )
            )
        return out

    def events(self, detector: str | None = None) -> EventScores:
        chosen = [d for d in self.detections if detector is None or d.detector == detector]
        return event_scores(self.scored_series(chosen))

    def nab(self) -> dict[str, float | None]:
        series = self.scored_series()
        return {profile: nab_score(series, profile) for profile in PROFILES}

    def quality(self) -> dict[str, object]:
        """Scores against the labels: NAB's, event level, and per detector."""
        return {
            "noc": self.noc,
            "nab": self.nab(),
            "events": self.events().to_json(),
            "per_detector": {
                name: self.events(name).to_json()
                for name in sorted({d.detector for d in self.detections})
            },
        }

    def repeats(self, alarms: list[KnownFalseAlarm]) -> list[KnownFalseAlarm]:
        """The known false alarms this run raises again: a detection on their series in
        their hours (openings and re-fires: each would have told on-call)."""
        return [
            a for a in alarms if any(a.covers(d.region, d.metric, d.hour) for d in self.detections)
        ]

    def label_of(self, ticket_id: int) -> str | None:
        """The labelled event a ticket was scored against; None: a false alarm by the
        labels."""
        return next((i.id for i in self.scorecard.incidents if ticket_id in i.ticket_ids), None)

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

    def to_json(self, alarms: list[KnownFalseAlarm] | None = None) -> dict[str, object]:
        """The run as JSON; with the known false alarms listed, which of them it raises."""
        doc: dict[str, object] = {
            "config": self.name,
            "seconds": round(self.seconds, 2),
            "tickets": len(self.tickets),
            "precision": self.precision(),
            "recall": self.recall(),
            "mean_delay_hours": self.mean_delay(),
            "false_alarms": len(self.scorecard.false_alarms),
            "false_alarms_per_region_week": self.false_alarms_per_region_week,
            "scorecard": self.scorecard.to_json(),
            "quality": self.quality(),
            "unjudged_series": self.unjudged,
            "labels_left_out": self.labels_left_out,
            "events": None
            if self.intake is None
            else {
                "read": self.intake.events_in,
                "accepted": self.intake.accepted,
                "dead_letters": dict(self.intake.dead_lettered),
            },
            "ticket_list": [_ticket_json(t) for t in self.tickets],
            "detection_list": [
                {
                    "hour": to_iso(d.hour),
                    "event": d.event,
                    "ticket_id": d.ticket_id,
                    "region": d.region,
                    "metric": d.metric,
                    "detector": d.detector,
                }
                for d in self.detections
            ],
            "findings": len(self.findings),
            "detectors": {
                name: d.to_json(len(self.scorecard.incidents))
                for name, d in sorted(self.detectors.items())
            },
        }
        if alarms:
            doc["known_false_alarms"] = {
                "listed": len(alarms),
                "raised": [x.ticket for x in self.repeats(alarms)],
            }
        return doc


@dataclass
class _Listener:
    """What a replay records beside the tickets: findings, detections, the young series."""

    findings: list[SpecFinding] = field(default_factory=list)
    log: DetectionLog = field(default_factory=DetectionLog)
    unjudged: dict[str, dict[str, int]] = field(default_factory=dict)

    def on_tick(self, result: TickResult) -> None:
        self.findings.extend(result.findings)
        self.unjudged = dict(result.unjudged)


def run_backtest(
    config: MonitorConfig,
    lines: Iterable[bytes] | FileOrder,
    labels: list[Label],
    name: str = "config",
    keep_series: set[str] | None = None,
    progress: Callable[[int], None] | None = None,
    noc: str | None = None,
    db_url: str | None = None,
) -> BacktestResult:
    """Replay raw event ``lines`` (or a file, in the order ``file_order`` found) with
    ``config``; score against ``labels``. With ``db_url`` the tickets (and their audit
    trail) are kept there."""
    config, played = playing(config, noc)
    heard = _Listener()
    points: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    hours_seen: set[int] = set()
    regions: set[str] = set()
    wanted = keep_series if keep_series is not None else set()

    def on_aggregate(agg: HourlyAggregate) -> None:
        hours_seen.add(agg.hour)
        regions.add(agg.region)
        for metric in wanted:
            points[(agg.region, metric)].append((agg.hour, agg.value(metric)))

    with tempfile.TemporaryDirectory() as tmp:
        run = build(config, db_url or f"sqlite:///{Path(tmp) / 'backtest.db'}", notifier=heard.log)
        run.pipeline.observe(tick=heard.on_tick)
        run.pipeline.observe(aggregate=on_aggregate)
        if isinstance(lines, FileOrder):
            run_file(run, lines.path, progress=progress, order=lines)
        else:
            run_lines(run, lines, progress=progress)
        tickets = run.tickets.all()
        run.tickets.close()
    span = (max(hours_seen) - min(hours_seen) + HOUR_MS) if hours_seen else 0
    hours = (
        np.arange(min(hours_seen), max(hours_seen) + HOUR_MS, HOUR_MS, dtype=np.int64)
        if hours_seen
        else np.zeros(0, dtype=np.int64)
    )
    labels, left_out = in_data(labels, regions)
    result = _scored(
        name, labels, tickets, heard.findings, len(regions) * span / WEEK_MS, run.seconds,
        dict(points),
    )  # fmt: skip
    result.labels_left_out = left_out
    result.intake = run.pipeline.stats
    return _with_detections(result, heard, hours, sorted(regions), played)


def run_backtest_series(
    config: MonitorConfig,
    series: HourlySeries,
    labels: list[Label],
    name: str = "config",
    keep_series: set[str] | None = None,
    db_url: str | None = None,
    scan_hours: int = MAX_SCAN_HOURS,
    noc: str | None = None,
) -> BacktestResult:
    """Judge hourly data with ``config`` (months of it, without the raw events); score it."""
    config, played = playing(config, noc)
    heard = _Listener()
    with tempfile.TemporaryDirectory() as tmp:
        run = build(
            config,
            db_url or f"sqlite:///{Path(tmp) / 'backtest.db'}",
            scan_hours=scan_hours,
            notifier=heard.log,
        )
        run.pipeline.observe(tick=heard.on_tick)
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
    labels, left_out = in_data(labels, set(series.regions))
    result = _scored(name, labels, tickets, heard.findings, region_weeks, run.seconds, points)
    result.labels_left_out = left_out
    return _with_detections(
        result, heard, np.asarray(hours, dtype=np.int64), list(series.regions), played
    )


def in_data(labels: list[Label], regions: set[str]) -> tuple[list[Label], list[str]]:
    """The labels of series the data holds, and the names of the labelled series it has
    nothing of. One labels file often covers many series (NAB's covers 11) while the data
    brought has some of them: a series with no data was scored as every label missed
    (recall 0.05 for the one series imported), which no config could change."""
    kept = [label for label in labels if label.region in regions]
    return kept, sorted({label.region for label in labels} - regions)


def _with_detections(
    result: BacktestResult, heard: _Listener, hours: np.ndarray, regions: list[str], noc: str
) -> BacktestResult:
    result.detections = sorted(heard.log.detections, key=lambda d: (d.hour, d.ticket_id))
    result.hours, result.regions, result.noc = hours, regions, noc
    result.unjudged = heard.unjudged
    return result


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
        labels=labels,
    )


# two configs' tickets about the same thing (region and subject: a count and a rate of the
# same complaints are one) opened this close tell on-call the same news, whichever detector
# opened them (a changed parameter moves an opening by an hour or two)
SAME_TICKET_HOURS = 24


def _key(t: TicketView) -> tuple[str, str]:
    return t.region, subject(t.metric)


def _not_in(tickets: list[TicketView], others: list[TicketView]) -> list[TicketView]:
    opened: dict[tuple[str, str], list[int]] = defaultdict(list)
    for t in others:
        opened[_key(t)].append(t.first_hour)
    near = SAME_TICKET_HOURS * HOUR_MS
    return [t for t in tickets if not any(abs(t.first_hour - h) <= near for h in opened[_key(t)])]


@dataclass
class Comparison:
    a: BacktestResult
    b: BacktestResult

    def only_caught_by(self) -> tuple[list[str], list[str]]:
        caught_a = {i.id for i in self.a.scorecard.incidents if i.caught}
        caught_b = {i.id for i in self.b.scorecard.incidents if i.caught}
        return sorted(caught_a - caught_b), sorted(caught_b - caught_a)

    def only_opened_by(self) -> tuple[list[TicketView], list[TicketView]]:
        """The tickets one config opens and the other does not: what a change adds to or
        spares on-call (the tables gave only counts: "tickets 4 / 5", and which one?)."""
        return _not_in(self.a.tickets, self.b.tickets), _not_in(self.b.tickets, self.a.tickets)

    def false_alarms(self, alarms: list[KnownFalseAlarm]) -> dict[str, list[KnownFalseAlarm]]:
        """What the second config does to the known false alarms the first raises:
        ``avoided`` (the first raises them, the second not) and ``added`` (the reverse)."""
        a, b = set(self.a.repeats(alarms)), set(self.b.repeats(alarms))
        return {
            "avoided": [x for x in alarms if x in a - b],
            "added": [x for x in alarms if x in b - a],
        }

    def to_json(self, alarms: list[KnownFalseAlarm] | None = None) -> dict[str, object]:
        only_a, only_b = self.only_caught_by()
        doc: dict[str, object] = {
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            f"only_{self.a.name}": only_a,
            f"only_{self.b.name}": only_b,
        }
        for result, tickets in zip((self.a, self.b), self.only_opened_by(), strict=True):
            doc[f"opened_only_{result.name}"] = [t.id for t in tickets]
        if alarms:
            doc["known_false_alarms"] = {
                "listed": len(alarms),
                self.a.name: [x.ticket for x in self.a.repeats(alarms)],
                self.b.name: [x.ticket for x in self.b.repeats(alarms)],
                **{k: [x.ticket for x in v] for k, v in self.false_alarms(alarms).items()},
            }
        return doc
