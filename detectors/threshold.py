"""Static threshold: the simplest rule NOC staff trust, with a persistence requirement.

Requiring N consecutive hours beyond the line keeps one noisy hour from paging anyone.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from detectors.base import (
    HOUR_MS,
    Detector,
    DetectorConfig,
    Finding,
    SeriesWindow,
    end_hours,
    last_columns,
    pct,
    rolling_sums,
)
from detectors.numbers import number


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
            self.direction == "below" and self.clear_at < self.threshold
        ):
            raise ValueError("clear_at must lie on the normal side of threshold")
        return self


def hysteresis_state(
    values: np.ndarray, fire: float, clear: float, n: int, above: bool = True, ends: int = 1
) -> np.ndarray:
    """Per row and each of the last ``ends`` columns: is the series firing there, judged on
    the window of ``values.shape[1] - ends + 1`` columns that ends there?

    Fire after ``n`` consecutive values beyond ``fire``; clear at the first value back
    beyond ``clear``. A pure scan over each window, so the detector itself keeps no state;
    the windows of all ends advance together, one column per step.
    """
    rows, cols = values.shape
    length = cols - ends + 1
    with np.errstate(invalid="ignore"):
        beyond = values > fire if above else values < fire
        normal = values < clear if above else values > clear
    run = np.zeros((rows, ends), dtype=np.int64)
    state = np.zeros((rows, ends), dtype=bool)
    for c in range(length):
        run = np.where(beyond[:, c : c + ends], run + 1, 0)
        state = (state & ~normal[:, c : c + ends]) | (run >= n)
    return state


# the normal level a limit's breach is told against: the median of the week before it
NORMAL_HOURS = 168


def _normal(series: np.ndarray, run_start: int) -> float | None:
    """The median of the known hours in the week before column ``run_start`` (None: no
    known hour there)."""
    before = series[max(0, run_start - NORMAL_HOURS) : max(0, run_start)]
    known = before[np.isfinite(before)]
    return float(np.median(known)) if known.size else None


def _explain(metric: str, observed: float, cfg: ThresholdConfig, normal: float | None) -> str:
    """Says what holds now: beyond the limit, or (hysteresis) back inside it but not yet
    at the level that clears it."""
    above = cfg.direction == "above"
    beyond = observed > cfg.threshold if above else observed < cfg.threshold
    usual = f", normally ~{number(normal)}" if normal is not None else ""
    if beyond or cfg.clear_at is None:
        word = ">" if above else "<"
        clears = "" if cfg.clear_at is None else f"; clears at {number(cfg.clear_at)}"
        return (
            f"{metric} {number(observed)} {word} the limit {number(cfg.threshold)} for "
            f"{cfg.min_consecutive_hours} consecutive hour(s){usual}{clears}"
        )
    side = "fallen" if above else "risen"
    return (
        f"{metric} {number(observed)} crossed the limit {number(cfg.threshold)} and has not yet "
        f"{side} to {number(cfg.clear_at)}, where it clears{usual}"
    )


class ThresholdDetector(Detector):
    name: ClassVar[str] = "threshold"
    config_model: ClassVar[type[ThresholdConfig]] = ThresholdConfig
    config: ThresholdConfig

    def history_hours(self) -> int:
        cfg = self.config
        state = cfg.lookback_hours if cfg.clear_at is not None else 0
        return max(cfg.min_consecutive_hours + NORMAL_HOURS, state)

    def min_known_hours(self) -> int:
        return self.config.min_consecutive_hours

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        return self.scan(window, 1)

    def scan(self, window: SeriesWindow, ends: int) -> list[Finding]:
        cfg = self.config
        n = cfg.min_consecutive_hours
        length = self.history_hours() + ends - 1
        values = last_columns(window.values, length)
        if cfg.clear_at is not None:
            firing = hysteresis_state(
                values, cfg.threshold, cfg.clear_at, n, above=cfg.direction == "above", ends=ends
            )
        else:
            with np.errstate(invalid="ignore"):
                beyond = (
                    values > cfg.threshold if cfg.direction == "above" else values < cfg.threshold
                )
            firing = rolling_sums(beyond, n, ends) == n
        last = values[:, -ends:]
        hours = end_hours(window, ends)
        first_end = values.shape[1] - ends
        findings = []
        for i, e in zip(*np.nonzero(firing), strict=True):
            key = window.keys[i]
            observed = float(last[i, e])
            hour = int(hours[e])
            normal = _normal(values[i], first_end + e - n + 1)
            known = normal is not None
            findings.append(
                Finding(
                    detector=self.name,
                    region=key.region,
                    metric=key.metric,
                    hour=hour,
                    observed=observed,
                    baseline=normal if known else cfg.threshold,
                    change_pct=pct(observed, normal) if known else None,
                    p_value=None,
                    window_start=hour - (n - 1) * HOUR_MS,
                    window_end=hour + HOUR_MS,
                    explanation=_explain(key.metric, observed, cfg, normal),
                    score=abs(observed - cfg.threshold) / (abs(cfg.threshold) or 1.0),
                    limit=cfg.threshold,
                )
            )
        return findings
