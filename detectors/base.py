"""The contract every detector keeps: a config model, a history length, one ``evaluate``.

Detectors are pure: they see a matrix of hourly values (one row per series, the last
column is the hour being judged) and return findings that explain themselves. No I/O,
no Kafka, no clocks: the same call serves the stream, the backtest and the tests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np
from pydantic import BaseModel, ConfigDict

HOUR_MS = 3_600_000


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

    def hour_at(self, column: int) -> int:
        """Epoch ms of a column (negative columns count from the end)."""
        n = self.values.shape[1]
        index = column if column >= 0 else n + column
        return self.end_hour - (n - 1 - index) * HOUR_MS


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

    def to_json(self) -> dict[str, object]:
        return {
            "detector": self.detector, "region": self.region, "metric": self.metric,
            "hour": self.hour, "observed": self.observed, "baseline": self.baseline,
            "change_pct": self.change_pct, "p_value": self.p_value,
            "window_start": self.window_start, "window_end": self.window_end,
            "explanation": self.explanation, "score": self.score,
        }


class Detector(Protocol):
    name: ClassVar[str]

    def history_hours(self) -> int:
        """How many hours of history (including the judged hour) ``evaluate`` needs."""
        ...

    def evaluate(self, window: SeriesWindow) -> list[Finding]: ...


def pct(observed: float, baseline: float) -> float | None:
    """Change in percent; None when the baseline is zero (a rise from nothing has no %)."""
    if baseline == 0:
        return None
    return (observed - baseline) / baseline * 100.0


def finding(detector: str, key: SeriesKey, end_hour: int, span_hours: int, observed: float,
            baseline: float, explanation: str, p_value: float | None = None,
            score: float | None = None) -> Finding:
    """A finding over the ``span_hours`` ending with ``end_hour`` (the shape all share)."""
    if score is None:
        score = float(-np.log10(max(p_value, 1e-300))) if p_value is not None else 0.0
    return Finding(
        detector=detector, region=key.region, metric=key.metric, hour=end_hour,
        observed=observed, baseline=baseline, change_pct=pct(observed, baseline),
        p_value=p_value, window_start=end_hour - (span_hours - 1) * HOUR_MS,
        window_end=end_hour + HOUR_MS, explanation=explanation, score=score)
