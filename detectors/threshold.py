"""Static threshold: the simplest rule NOC staff trust, with a persistence requirement.

Requiring N consecutive hours beyond the line keeps one noisy hour from paging anyone.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from detectors.base import HOUR_MS, DetectorConfig, Finding, SeriesWindow, pct


class ThresholdConfig(DetectorConfig):
    threshold: float
    direction: Literal["above", "below"] = "above"
    min_consecutive_hours: int = Field(default=1, ge=1, le=168)
    # hysteresis: once firing, keep firing until the value is back beyond this line
    clear_at: float | None = None
    lookback_hours: int = Field(default=72, ge=1, le=24 * 14)

    @model_validator(mode="after")
    def _clear_on_the_right_side(self) -> ThresholdConfig:
        if self.clear_at is None:
            return self
        if (self.direction == "above" and self.clear_at > self.threshold) or (
                self.direction == "below" and self.clear_at < self.threshold):
            raise ValueError("clear_at must lie on the normal side of threshold")
        return self


def hysteresis_state(values: np.ndarray, fire: float, clear: float, n: int,
                     above: bool = True) -> np.ndarray:
    """Per row: is the series in the firing state at the last column?

    Fire after ``n`` consecutive values beyond ``fire``; clear at the first value back
    beyond ``clear``. A pure scan over the window, so the detector itself keeps no state.
    """
    rows, cols = values.shape
    with np.errstate(invalid="ignore"):
        beyond = values > fire if above else values < fire
        normal = values < clear if above else values > clear
    run = np.zeros(rows, dtype=np.int64)
    state = np.zeros(rows, dtype=bool)
    for c in range(cols):
        run = np.where(beyond[:, c], run + 1, 0)
        state = (state & ~normal[:, c]) | (run >= n)
    return state


class ThresholdDetector:
    name: ClassVar[str] = "threshold"
    config_model: ClassVar[type[ThresholdConfig]] = ThresholdConfig

    def __init__(self, config: ThresholdConfig) -> None:
        self.config = config

    def history_hours(self) -> int:
        cfg = self.config
        return max(cfg.min_consecutive_hours, cfg.lookback_hours if cfg.clear_at is not None
                   else 0)

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        cfg = self.config
        n = cfg.min_consecutive_hours
        recent = window.values[:, -n:]
        if cfg.clear_at is not None:
            firing = hysteresis_state(window.values, cfg.threshold, cfg.clear_at, n,
                                      above=cfg.direction == "above")
        else:
            with np.errstate(invalid="ignore"):
                beyond = (recent > cfg.threshold if cfg.direction == "above"
                          else recent < cfg.threshold)
            firing = beyond.all(axis=1) & (recent.shape[1] == n)
        findings = []
        word = ">" if cfg.direction == "above" else "<"
        for i in np.flatnonzero(firing):
            key = window.keys[i]
            observed = float(recent[i, -1])
            findings.append(Finding(
                detector=self.name, region=key.region, metric=key.metric,
                hour=window.end_hour, observed=observed, baseline=cfg.threshold,
                change_pct=pct(observed, cfg.threshold), p_value=None,
                window_start=window.end_hour - (n - 1) * HOUR_MS,
                window_end=window.end_hour + HOUR_MS,
                explanation=(f"{key.metric} {word} {cfg.threshold:g} for {n} consecutive "
                             f"hour(s); now {observed:.3g}"
                             + ("" if cfg.clear_at is None else
                                f" (clears at {cfg.clear_at:g})")),
                score=abs(observed - cfg.threshold) / (abs(cfg.threshold) or 1.0),
            ))
        return findings
