"""Early trend: the last ``window_hours`` against the same hours of the K weeks before.

The 7-day rule dilutes a climb that started two days ago over a whole week; comparing a
short window with the same hours of earlier weeks (which removes the daily and weekly
rhythm) sees it sooner. Using K earlier weeks makes the baseline steadier: under "no
change" the current count, given the total, is Binomial(total, 1/(K+1)). Persistence is
what separates a trend from a busy day: the test must hold for ``min_consecutive_hours``
successive window ends, and an EWMA of the hourly log-ratio must point up.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field
from scipy import stats

from detectors.base import DetectorConfig, Finding, SeriesWindow, finding, pct

WEEK_H = 168


class EarlyTrendConfig(DetectorConfig):
    window_hours: int = Field(default=24, ge=6, le=WEEK_H)
    weeks: int = Field(default=2, ge=1, le=6)
    rise: float = Field(default=0.25, gt=0, le=100)
    alpha: float = Field(default=1e-3, gt=0, lt=1)
    min_volume: float = Field(default=20, ge=0)
    min_consecutive_hours: int = Field(default=6, ge=1, le=72)
    halflife_hours: float = Field(default=12.0, gt=0, le=WEEK_H)


def ewma_log_ratio(current: np.ndarray, previous: np.ndarray, halflife: float) -> np.ndarray:
    """EWMA over columns of log((cur+0.5)/(prev+0.5)), the last column's value per row."""
    ratio = np.log((np.nan_to_num(current) + 0.5) / (np.nan_to_num(previous) + 0.5))
    decay = 0.5 ** (1.0 / halflife)
    weights = decay ** np.arange(ratio.shape[1] - 1, -1, -1)
    return (ratio * weights).sum(axis=1) / weights.sum()


def window_sums(values: np.ndarray, w: int, ends: int, lag: int = 0) -> np.ndarray:
    """Sums of ``w`` hours ending at each of the last ``ends`` columns, shifted ``lag`` back."""
    filled = np.nan_to_num(values)
    csum = np.concatenate([np.zeros((values.shape[0], 1)), np.cumsum(filled, axis=1)], axis=1)
    n = values.shape[1]
    end_idx = np.arange(n - ends + 1, n + 1) - lag  # exclusive ends in csum coordinates
    return csum[:, end_idx] - csum[:, end_idx - w]


class EarlyTrendDetector:
    name: ClassVar[str] = "early_trend"
    config_model: ClassVar[type[EarlyTrendConfig]] = EarlyTrendConfig

    def __init__(self, config: EarlyTrendConfig) -> None:
        self.config = config

    def history_hours(self) -> int:
        cfg = self.config
        return cfg.weeks * WEEK_H + cfg.window_hours + cfg.min_consecutive_hours

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        cfg = self.config
        w, k, m = cfg.window_hours, cfg.weeks, cfg.min_consecutive_hours
        values = window.values
        if values.shape[1] < self.history_hours():
            return []
        complete = np.isfinite(values[:, -self.history_hours():]).all(axis=1)
        if not complete.any():
            return []
        current = window_sums(values, w, m)  # [rows, m]
        baseline = sum(window_sums(values, w, m, lag=j * WEEK_H) for j in range(1, k + 1))
        total = current + baseline
        cur_i = np.rint(current).astype(np.int64)
        p_values = np.where(total > 0, stats.binom.sf(cur_i - 1, np.rint(total).astype(np.int64),
                                                       1.0 / (k + 1)), 1.0)
        mean_base = baseline / k
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.where(mean_base > 0, current / mean_base - 1.0, np.inf)
        steady = ((p_values <= cfg.alpha) & (change >= cfg.rise)).all(axis=1)
        trend = ewma_log_ratio(values[:, -w:], values[:, -WEEK_H - w:-WEEK_H], cfg.halflife_hours)
        firing = complete & steady & (current[:, -1] >= cfg.min_volume) & (trend > 0)
        findings = []
        for i in np.flatnonzero(firing):
            key = window.keys[i]
            cur, base, p = float(current[i, -1]), float(mean_base[i, -1]), float(p_values[i, -1])
            findings.append(finding(
                self.name, key, window.end_hour, w, cur, base, p_value=p,
                explanation=(f"early trend: {key.metric} {cur:.0f} in the last {w}h vs "
                             f"{base:.1f} in the same hours of the previous {k} week(s) "
                             f"({pct(cur, base) or 0:+.0f}%), significant for {m} hours "
                             f"running (p={p:.2g}), EWMA trend {float(trend[i]):+.2f}")))
        return findings
