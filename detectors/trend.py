"""Early trend: a slow climb flagged before it adds up to +20% week over week.

Two methods. ``cusum`` (the default): a Poisson CUSUM of each hour's count against its
hour-of-week expectation from the K weeks before (smoothed over neighbouring hours),
tuned to a rise of ``rise``; it accumulates the evidence of many slightly-high hours, so a
ramp is seen within a day or so, where the 7-day rule waits until the excess has filled a
week. The statistic is Page's: S = max(0, S + x ln r - mu (r - 1)), which under "no change"
drifts down and rarely reaches the threshold ``h`` (log-likelihood units).

``window``: the last ``window_hours`` against the same hours of the K weeks before.

The 7-day rule dilutes a climb that started two days ago over a whole week; comparing a
short window with the same hours of earlier weeks (which removes the daily and weekly
rhythm) sees it sooner. Using K earlier weeks makes the baseline steadier: under "no
change" the current count, given the total, is Binomial(total, 1/(K+1)). Persistence is
what separates a trend from a busy day: the test must hold for ``min_consecutive_hours``
successive window ends, and an EWMA of the hourly log-ratio must point up.
"""

from __future__ import annotations

import warnings
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field
from scipy import stats

from detectors.base import DetectorConfig, Finding, SeriesWindow, finding, pct

WEEK_H = 168


class EarlyTrendConfig(DetectorConfig):
    method: Literal["cusum", "window"] = "cusum"
    threshold: float = Field(default=12.0, gt=0, le=1000)  # cusum: h, log-likelihood units
    run_hours: int = Field(default=WEEK_H, ge=24, le=4 * WEEK_H)  # cusum: hours accumulated
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


def seasonal_expectation(values: np.ndarray, weeks: int,
                         run_hours: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last ``run_hours`` counts, their expectations, and where both are known.

    An hour's expectation is the mean of the same hour and its two neighbours in each of
    the ``weeks`` weeks before (3 x weeks samples: a steadier base than one hour each).
    """
    n = values.shape[1]
    known = np.isfinite(values)
    filled = np.where(known, values, 0.0)
    cols = np.arange(n - run_hours, n)
    offsets = [(j, d) for j in range(1, weeks + 1) for d in (-1, 0, 1)]
    index = [np.clip(cols - j * WEEK_H + d, 0, n - 1) for j, d in offsets]
    expected = np.mean([filled[:, ix] for ix in index], axis=0)
    usable = known[:, cols] & np.all([known[:, ix] for ix in index], axis=0)
    history = np.where(known[:, : n - run_hours], filled[:, : n - run_hours], np.nan)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        level = np.nan_to_num(np.nanmean(history, axis=1, keepdims=True))
    # never expect nothing: one complaint where none is usual is not a trend by itself
    floor = np.maximum(level * 0.25, 0.05)
    return filled[:, cols], np.maximum(expected, floor), usable


def poisson_cusum(counts: np.ndarray, expected: np.ndarray,
                  ratio: float) -> tuple[np.ndarray, np.ndarray]:
    """Page's CUSUM for a Poisson rate rising by ``ratio``; (final S, column it last was 0).

    Each hour's count is capped a few standard deviations above the risen rate: one burst
    (a billing run, an outage hour) is the threshold detectors' business, not a trend.
    """
    risen = expected * ratio
    capped = np.minimum(counts, risen + 4.0 * np.sqrt(risen) + 2.0)
    llr = capped * np.log(ratio) - expected * (ratio - 1.0)
    stat = np.zeros(counts.shape[0])
    start = np.zeros(counts.shape[0], dtype=np.int64)
    for t in range(counts.shape[1]):
        stat = np.maximum(stat + llr[:, t], 0.0)
        start = np.where(stat == 0.0, t + 1, start)
    return stat, np.minimum(start, counts.shape[1] - 1)


class EarlyTrendDetector:
    name: ClassVar[str] = "early_trend"
    config_model: ClassVar[type[EarlyTrendConfig]] = EarlyTrendConfig

    def __init__(self, config: EarlyTrendConfig) -> None:
        self.config = config

    def history_hours(self) -> int:
        cfg = self.config
        if cfg.method == "cusum":
            return cfg.weeks * WEEK_H + cfg.run_hours + 1
        return cfg.weeks * WEEK_H + cfg.window_hours + cfg.min_consecutive_hours

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        if self.config.method == "cusum":
            return self._cusum(window)
        return self._window(window)

    def _cusum(self, window: SeriesWindow) -> list[Finding]:
        cfg = self.config
        need = self.history_hours()
        values = window.values
        if values.shape[1] < need:
            return []
        values = values[:, -need:]
        counts, expected, usable = seasonal_expectation(values, cfg.weeks, cfg.run_hours)
        # a young series runs on the hours it has: at least a day with a full baseline
        enough = usable[:, -24:].all(axis=1)
        if not enough.any():
            return []
        counts, expected = counts * usable, expected * usable
        stat, start = poisson_cusum(counts, expected, 1.0 + cfg.rise)
        hours = cfg.run_hours - start
        rows = np.arange(len(values))
        zero = np.zeros((len(values), 1))
        csum_x = np.concatenate([zero, np.cumsum(counts, axis=1)], axis=1)
        csum_mu = np.concatenate([zero, np.cumsum(expected, axis=1)], axis=1)
        observed = csum_x[:, -1] - csum_x[rows, start]
        baseline = csum_mu[:, -1] - csum_mu[rows, start]
        last_day = counts[:, -24:].sum(axis=1)
        firing = (enough & (stat >= cfg.threshold) & (observed >= cfg.min_volume)
                  & (last_day > expected[:, -24:].sum(axis=1)))
        findings = []
        for i in np.flatnonzero(firing):
            key = window.keys[i]
            obs, base, h = float(observed[i]), float(baseline[i]), int(hours[i])
            findings.append(finding(
                self.name, key, window.end_hour, max(h, 1), obs, base,
                score=float(stat[i]),
                explanation=(f"early trend: {key.metric} {obs:.0f} in the last {h}h vs "
                             f"{base:.1f} expected from the same hours of the previous "
                             f"{cfg.weeks} week(s) ({pct(obs, base) or 0:+.0f}%); the CUSUM "
                             f"for a {cfg.rise:.0%} rise stands at {float(stat[i]):.1f} "
                             f"(alarm at {cfg.threshold:g})")))
        return findings

    def _window(self, window: SeriesWindow) -> list[Finding]:
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
