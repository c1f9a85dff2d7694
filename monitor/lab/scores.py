"""Detection scores against labelled events: NAB's score and event-level figures.

A *detection* is an hour at which on-call would have been told something new: a ticket
opened, or a recovered ticket fired again. An *event* is a labelled span of one series
(an incident, an anomaly window, or a labelled point's hour).

* NAB (the Numenta Anomaly Benchmark's published rules): earlier is better inside a
  window, each detection outside the windows costs ``A_FP`` (less just after a window),
  each missed window ``A_FN``; normalised so 0 never fires and 100 is perfect.
* Event level: an event is caught when a detection falls inside it or within
  ``CATCH_HOURS`` of its start; precision counts the detections that belong to an event,
  false alarms per series-week the ones that do not.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from statistics import median

import numpy as np

from detectors.timeaxis import HOUR_MS, WEEK_MS

CATCH_HOURS = 6

# (A_TP, A_FN, A_FP) of NAB's application profiles
PROFILES: dict[str, tuple[float, float, float]] = {
    "standard": (1.0, 1.0, 0.11),
    "low_fp": (1.0, 1.0, 0.22),
    "low_fn": (1.0, 2.0, 0.11),
}


Allowed = frozenset[int] | None  # the windows a detection may belong to (None: any)


@dataclass(frozen=True)
class ScoredSeries:
    """One series' rows (epoch ms, sorted), its labelled windows and its detections.

    A detection is the start of the hour at whose close it was made, alone or with the
    indexes of the windows it may belong to (a detection on an unrelated metric of a
    region belongs to none of its windows)."""

    name: str
    rows: np.ndarray
    windows: Sequence[tuple[int, int]]  # inclusive [start, end], epoch ms
    detections: Sequence[int | tuple[int, Allowed]]

    def pairs(self) -> list[tuple[int, Allowed]]:
        """Detections as (hour, allowed windows), in time order, one per hour."""
        best: dict[int, Allowed] = {}
        for item in self.detections:
            hour, allowed = item if isinstance(item, tuple) else (item, None)
            known = best.get(hour, frozenset())
            best[hour] = None if allowed is None or known is None else known | allowed
        return sorted(best.items())


def _sigmoid(y: float) -> float:
    return -1.0 if y > 3 else 2.0 / (1.0 + math.exp(5.0 * y)) - 1.0


def nab_raw(series: ScoredSeries, profile: str = "standard") -> float:
    """NAB's raw score of one series: detections are mapped to the last row of their hour
    (an hourly monitor learns of an hour when it closes)."""
    a_tp, a_fn, a_fp = PROFILES[profile]
    rows = series.rows
    probation = min(int(0.15 * len(rows)), 750)
    windows = [
        (int(np.searchsorted(rows, start, "left")), int(np.searchsorted(rows, end, "right")) - 1)
        for start, end in series.windows
    ]
    hit = [False] * len(windows)
    total = 0.0
    for hour, allowed in series.pairs():
        i = int(np.searchsorted(rows, hour + HOUR_MS, "left")) - 1
        if i < probation:
            continue
        inside = next(
            (
                w
                for w, (a, b) in enumerate(windows)
                if a <= i <= b and (allowed is None or w in allowed)
            ),
            None,
        )
        if inside is not None:
            if not hit[inside]:
                hit[inside] = True
                a, b = windows[inside]
                width = b - a + 1
                total += a_tp * _sigmoid(-(b - i + 1) / width) / _sigmoid(-1.0)
            continue
        before = [(a, b) for a, b in windows if b < i]
        if not before:
            total -= a_fp
            continue
        a, b = max(before, key=lambda w: w[1])
        total += a_fp * _sigmoid((i - b) / max(b - a, 1))
    return total - a_fn * hit.count(False)


def nab_score(series: Sequence[ScoredSeries], profile: str = "standard") -> float | None:
    """Normalised over all series: 0 is the detector that never fires, 100 is perfect."""
    a_tp, a_fn, _ = PROFILES[profile]
    windows = sum(len(s.windows) for s in series)
    if not windows:
        return None
    null, perfect = -a_fn * windows, a_tp * windows
    raw = sum(nab_raw(s, profile) for s in series)
    return 100.0 * (raw - null) / (perfect - null)


@dataclass
class EventScores:
    events: int = 0
    caught: int = 0
    detections: int = 0
    true_detections: int = 0
    series_weeks: float = 0.0
    delays: list[float] = field(default_factory=list)  # hours from start, caught events

    @property
    def recall(self) -> float | None:
        return self.caught / self.events if self.events else None

    @property
    def precision(self) -> float | None:
        return self.true_detections / self.detections if self.detections else None

    @property
    def f1(self) -> float | None:
        p, r = self.precision, self.recall
        return None if p is None or r is None or p + r == 0 else 2 * p * r / (p + r)

    @property
    def false_alarms(self) -> int:
        return self.detections - self.true_detections

    @property
    def false_alarms_per_series_week(self) -> float | None:
        return self.false_alarms / self.series_weeks if self.series_weeks else None

    @property
    def median_delay_hours(self) -> float | None:
        return median(self.delays) if self.delays else None

    def to_json(self) -> dict[str, object]:
        return {
            "events": self.events,
            "caught": self.caught,
            "recall": self.recall,
            "detections": self.detections,
            "precision": self.precision,
            "f1": self.f1,
            "false_alarms": self.false_alarms,
            "false_alarms_per_series_week": self.false_alarms_per_series_week,
            "median_delay_hours": self.median_delay_hours,
        }


def event_scores(series: Sequence[ScoredSeries]) -> EventScores:
    out = EventScores()
    for s in series:
        spans = [(start, max(end, start + CATCH_HOURS * HOUR_MS)) for start, end in s.windows]
        out.events += len(spans)
        if len(s.rows):
            out.series_weeks += (int(s.rows[-1]) - int(s.rows[0]) + HOUR_MS) / WEEK_MS
        first: dict[int, int] = {}
        for hour, allowed in s.pairs():
            at = hour + HOUR_MS  # when on-call is told
            inside = [
                k
                for k, (a, b) in enumerate(spans)
                if a < at <= b + HOUR_MS and (allowed is None or k in allowed)
            ]
            out.detections += 1
            if inside:
                out.true_detections += 1
                for k in inside:
                    first.setdefault(k, at)
        out.caught += len(first)
        out.delays += [(at - spans[k][0]) / HOUR_MS for k, at in first.items()]
    return out
