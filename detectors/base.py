"""The contract every detector keeps: a config model, a history length, ``evaluate``.

Detectors are pure: they see a matrix of hourly values (one row per series, the last
column is the hour being judged) and return findings that explain themselves. No I/O,
no Kafka, no clocks: the same call serves the stream, the backtest and the tests.

``scan(window, ends)`` judges each of the last ``ends`` columns as if it were the end of
its own window. A live worker judges one hour (``evaluate`` is ``scan(window, 1)``); a
backtest over a year judges a week of hours per call, which lets a detector share its
rolling sums across hours instead of recomputing them 168 times. ``scan_by_ends`` is the
reference definition: a detector with a vectorised scan must agree with it (the tests
check this on random data), one without uses it as is.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, tzinfo
from typing import Any, ClassVar

import numpy as np
from pydantic import BaseModel, ConfigDict

from detectors.timeaxis import HOUR_MS


class DetectorConfig(BaseModel):
    """Base for detector parameters: unknown keys are errors, so typos never pass silently."""

    model_config = ConfigDict(extra="forbid", frozen=True)


@dataclass(frozen=True, slots=True)
class SeriesKey:
    region: str
    metric: str


@dataclass(frozen=True, slots=True)
class SeriesWindow:
    """Hourly values of many series, aligned: ``values[i, -1]`` is hour ``end_hour``."""

    keys: Sequence[SeriesKey]
    values: np.ndarray
    end_hour: int  # epoch ms, start of the last column's hour
    # other metrics of the same rows and hours, for detectors that read two signals
    context: Mapping[str, np.ndarray] = field(default_factory=dict)
    # hours known to be anomalous (earlier findings, tickets still firing, mutes), same
    # shape as ``values``: a detector comparing with a week ago leaves them out of that
    # baseline (only there: they are still the judged hours' own data)
    excluded: np.ndarray | None = None
    # the operator's zone, for rules written in local time (the evening peak)
    zone: tzinfo = UTC

    def rows(self, start: int, stop: int) -> SeriesWindow:
        """The window of series ``start`` to ``stop``: detectors judge each on its own."""
        return SeriesWindow(
            self.keys[start:stop],
            self.values[start:stop],
            self.end_hour,
            {name: ctx[start:stop] for name, ctx in self.context.items()},
            None if self.excluded is None else self.excluded[start:stop],
            self.zone,
        )

    def hour_at(self, column: int) -> int:
        """Epoch ms of a column (negative columns count from the end)."""
        n = self.values.shape[1]
        index = column if column >= 0 else n + column
        return self.end_hour - (n - 1 - index) * HOUR_MS


@dataclass(frozen=True, slots=True)
class Signal:
    """The other series a two-signal detector read (a KPI beside the complaints), with
    its figures: what fired the finding when the complaints' own look ordinary (a site
    fault precursor's ticket read "7 (normal ~7, +0%)" while its packet loss had gone
    from 0.24 to 1.69 %)."""

    metric: str
    observed: float
    baseline: float | None = None  # its usual level, when the detector compares with one
    limit: float | None = None  # the line it crossed, when the detector has one

    def to_json(self) -> dict[str, object]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Finding:
    """A detector's verdict on one series at one hour, with the evidence behind it."""

    detector: str
    region: str
    metric: str
    hour: int
    observed: float
    baseline: float
    change_pct: float | None
    p_value: float | None
    window_start: int
    window_end: int  # exclusive
    explanation: str
    score: float = 0.0
    # a fixed line the detector compares with (a threshold's limit), apart from the
    # series' normal level in ``baseline``: "1.21 (limit 1.0, normal ~0.2)"
    limit: float | None = None
    signal: Signal | None = None  # a two-signal detector's other series

    def to_json(self) -> dict[str, object]:
        return {
            "detector": self.detector,
            "region": self.region,
            "metric": self.metric,
            "hour": self.hour,
            "observed": self.observed,
            "baseline": self.baseline,
            "change_pct": self.change_pct,
            "p_value": self.p_value,
            "window_start": self.window_start,
            "window_end": self.window_end,
            "explanation": self.explanation,
            "score": self.score,
            "limit": self.limit,
            "signal": None if self.signal is None else self.signal.to_json(),
        }


class Detector(ABC):
    """The one interface every detector keeps, so a spec can swap one for another.

    A subclass names itself (``name``, the config's ``detector:``), declares its parameters
    (``config_model``), says how much history it needs and implements ``scan`` (many hours
    at once) or ``evaluate`` (one hour); each has a default in terms of the other.
    Two-signal detectors name the other metrics they read in ``context_metrics``.

    >>> import numpy as np
    >>> from detectors import ThresholdDetector, SeriesKey, SeriesWindow
    >>> detector = ThresholdDetector(ThresholdDetector.config_model(threshold=1.0))
    >>> window = SeriesWindow([SeriesKey("r1", "kpi.packet_loss.mean")],
    ...                       np.array([[0.2, 0.3, 1.4]]), end_hour=0)
    >>> [(f.region, f.observed) for f in detector.evaluate(window)]
    [('r1', 1.4)]
    """

    name: ClassVar[str]
    config_model: ClassVar[type[DetectorConfig]]
    # reads ``SeriesWindow.excluded``: its baselines lie a week or more before the hours
    # it judges (so a replay judging under a week at a time knows every flag it needs)
    leaves_out_anomalous_hours: ClassVar[bool] = False
    # the longest a problem it still sees can go without a finding: 1 for a detector that
    # judges every hour, 24 for one that judges one window a day (an evening's capacity
    # shortage is not over because the night is quiet)
    cadence_hours: ClassVar[int] = 1

    def __init__(self, config: DetectorConfig | None = None) -> None:
        self.config: Any = config if config is not None else self.config_model()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.scan is Detector.scan and cls.evaluate is Detector.evaluate:
            raise TypeError(f"{cls.__name__} must implement scan or evaluate")

    @abstractmethod
    def history_hours(self) -> int:
        """How many hours of history (including the judged hour) one hour's verdict needs."""

    def context_metrics(self) -> list[str]:
        """Other metrics this detector reads beside the judged one (two-signal detectors)."""
        return []

    def min_known_hours(self) -> int:
        """Known hours a series needs before this detector can judge it at all: a series
        with fewer is reported as not judged yet rather than passed over in silence."""
        return self.history_hours()

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        """Judge the window's last hour."""
        return self.scan(window, 1)

    def scan(self, window: SeriesWindow, ends: int) -> list[Finding]:
        """Judge each of the last ``ends`` hours as if it ended its own window."""
        return scan_by_ends(self, window, ends)


def sub_window(window: SeriesWindow, stop: int, hours: int) -> SeriesWindow:
    """The ``hours`` columns ending before column ``stop`` (NaN-padded on the left)."""

    def cut(values: np.ndarray) -> np.ndarray:
        return last_columns(values[:, :stop], hours)

    return SeriesWindow(
        keys=window.keys,
        values=cut(window.values),
        end_hour=window.hour_at(stop - 1),
        context={name: cut(v) for name, v in window.context.items()},
        excluded=(
            None
            if window.excluded is None
            else pad_flags(window.excluded[:, :stop], hours)[:, -hours:]
        ),
        zone=window.zone,
    )


def scan_by_ends(detector: Detector, window: SeriesWindow, ends: int) -> list[Finding]:
    """Judge each of the last ``ends`` columns with ``evaluate`` on its own window."""
    n = window.values.shape[1]
    hours = detector.history_hours()
    out: list[Finding] = []
    for stop in range(n - ends + 1, n + 1):
        out.extend(detector.evaluate(sub_window(window, stop, hours)))
    return out


def pad_left(values: np.ndarray, columns: int) -> np.ndarray:
    """``values`` with NaN columns in front, so that it has at least ``columns`` columns."""
    missing = columns - values.shape[1]
    if missing <= 0:
        return values
    return np.concatenate([np.full((values.shape[0], missing), np.nan), values], axis=1)


def pad_flags(flags: np.ndarray, columns: int) -> np.ndarray:
    """``flags`` with unset columns in front, as ``pad_left`` pads values."""
    missing = columns - flags.shape[1]
    if missing <= 0:
        return flags
    return np.concatenate([np.zeros((flags.shape[0], missing), dtype=bool), flags], axis=1)


def baseline_values(window: SeriesWindow, columns: int) -> np.ndarray:
    """The window's values padded to ``columns``, with its excluded hours unknown: what a
    baseline may be built from."""
    values = pad_left(window.values, columns)
    if window.excluded is None:
        return values
    return np.where(pad_flags(window.excluded, columns), np.nan, values)


def last_columns(values: np.ndarray, columns: int) -> np.ndarray:
    """Exactly the last ``columns`` columns of ``values``, NaN-padded on the left."""
    return pad_left(values, columns)[:, -columns:]


def rolling_sums(values: np.ndarray, w: int, ends: int, lag: int = 0) -> np.ndarray:
    """Sums of ``w`` columns ending at each of the last ``ends`` columns, ``lag`` back.

    NaN counts as 0 (like ``nansum``). One cumulative sum serves every end: this is what
    makes a scan over a week of hours cost little more than one hour. It runs over the
    columns the sums read, not the whole window: a window holds the longest history any
    detector needs, and a week-over-week sum reads only its two weeks of it.
    """
    first = values.shape[1] - ends + 1 - lag - w  # the first column any of the sums reads
    if first >= 0:
        values, lag = values[:, first : values.shape[1] - lag], 0
    filled = np.nan_to_num(values) if values.dtype.kind == "f" else values.astype(float)
    n = values.shape[1]
    if ends <= 2:  # a live tick: summing the blocks beats a cumulative sum over the window
        return np.stack(
            [
                filled[:, n - ends + 1 + e - lag - w : n - ends + 1 + e - lag].sum(axis=1)
                for e in range(ends)
            ],
            axis=1,
        )
    csum = np.zeros((values.shape[0], values.shape[1] + 1))
    np.cumsum(filled, axis=1, out=csum[:, 1:])
    end_idx = np.arange(n - ends + 1, n + 1) - lag  # exclusive ends in csum coordinates
    return csum[:, end_idx] - csum[:, end_idx - w]


def end_hours(window: SeriesWindow, ends: int) -> np.ndarray:
    """Epoch ms of each of the last ``ends`` columns."""
    return window.end_hour - np.arange(ends - 1, -1, -1, dtype=np.int64) * HOUR_MS


def pct(observed: float, baseline: float) -> float | None:
    """Change in percent; None when the baseline is zero (a rise from nothing has no %)."""
    if baseline == 0:
        return None
    return (observed - baseline) / baseline * 100.0


def finding(
    detector: str,
    key: SeriesKey,
    end_hour: int,
    span_hours: int,
    observed: float,
    baseline: float,
    explanation: str,
    p_value: float | None = None,
    score: float | None = None,
    signal: Signal | None = None,
) -> Finding:
    """A finding over the ``span_hours`` ending with ``end_hour`` (the shape all share)."""
    if score is None:
        score = float(-np.log10(max(p_value, 1e-300))) if p_value is not None else 0.0
    return Finding(
        detector=detector,
        region=key.region,
        metric=key.metric,
        hour=end_hour,
        observed=observed,
        baseline=baseline,
        change_pct=pct(observed, baseline),
        p_value=p_value,
        window_start=end_hour - (span_hours - 1) * HOUR_MS,
        window_end=end_hour + HOUR_MS,
        explanation=explanation,
        score=score,
        signal=signal,
    )
