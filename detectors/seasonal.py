"""Seasonal baseline: the same hour of the week over the last K weeks, median and MAD.

Why median/MAD: one past incident in the history must not lift the baseline (a mean
would), and complaint counts are skewed. The band's half-width is k robust standard
deviations, floored by the Poisson noise of the median so that quiet series are not
alarmed by a single extra complaint.
"""

from __future__ import annotations

import warnings
from typing import ClassVar

import numpy as np
from pydantic import Field

from detectors.base import Detector, DetectorConfig, Finding, SeriesWindow, finding, scan_by_ends
from detectors.numbers import number
from detectors.timeaxis import WEEK_HOURS


class SeasonalConfig(DetectorConfig):
    weeks: int = Field(default=4, ge=2, le=12)
    k: float = Field(default=4.0, gt=0, le=20)
    min_consecutive_hours: int = Field(default=2, ge=1, le=48)
    min_value: float = Field(default=0.0, ge=0)


def seasonal_band(
    values: np.ndarray, weeks: int, k: float, hours: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(median, lower, upper) for each of the last ``hours`` columns, per row."""
    n = values.shape[1]
    cols = np.arange(n - hours, n)
    lags = np.arange(1, weeks + 1) * WEEK_HOURS
    idx = cols[None, :] - lags[:, None]  # [weeks, hours]
    history = values[:, idx]  # [rows, weeks, hours]
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: no history yet
        median = np.nanmedian(history, axis=1)
        mad = np.nanmedian(np.abs(history - median[:, None, :]), axis=1)
    spread = np.maximum(1.4826 * mad, np.sqrt(np.maximum(median, 1.0)))
    return median, median - k * spread, median + k * spread


class SeasonalDetector(Detector):
    name: ClassVar[str] = "seasonal"
    config_model: ClassVar[type[SeasonalConfig]] = SeasonalConfig
    config: SeasonalConfig

    def history_hours(self) -> int:
        return self.config.weeks * WEEK_HOURS + self.config.min_consecutive_hours

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        cfg = self.config
        n = cfg.min_consecutive_hours
        values = window.values
        if values.shape[1] < self.history_hours():
            return []
        median, _, upper = seasonal_band(values, cfg.weeks, cfg.k, n)
        recent = values[:, -n:]
        covered = np.isfinite(values[:, -self.history_hours() :]).mean(axis=1) >= 0.9
        with np.errstate(invalid="ignore"):
            firing = ((recent > upper) & (recent >= cfg.min_value)).all(axis=1) & covered
        findings = []
        for i in np.flatnonzero(firing):
            key = window.keys[i]
            observed, base, top = float(recent[i, -1]), float(median[i, -1]), float(upper[i, -1])
            findings.append(
                finding(
                    self.name,
                    key,
                    window.end_hour,
                    n,
                    observed,
                    base,
                    score=(observed - base) / max(top - base, 1e-9),
                    explanation=(
                        f"{key.metric} {number(observed)} above the band of this hour of the "
                        f"week (median {number(base)} over {cfg.weeks} weeks, upper "
                        f"{number(top)}) for {n} hour(s)"
                    ),
                )
            )
        return findings

    def scan(self, window: SeriesWindow, ends: int) -> list[Finding]:
        return scan_by_ends(self, window, ends)
