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

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from detectors.base import (
    Detector,
    DetectorConfig,
    Finding,
    SeriesWindow,
    baseline_values,
    end_hours,
    finding,
    last_columns,
    pct,
    rolling_sums,
    scan_by_ends,
)
from detectors.dispersion import weekly_dispersion
from detectors.numbers import number
from detectors.timeaxis import WEEK_HOURS


class EarlyTrendConfig(DetectorConfig):
    method: Literal["cusum", "window"] = "cusum"
    threshold: float = Field(default=12.0, gt=0, le=1000)  # cusum: h, log-likelihood units
    run_hours: int = Field(default=WEEK_HOURS, ge=24, le=4 * WEEK_HOURS)  # cusum: hours accumulated
    window_hours: int = Field(default=24, ge=6, le=WEEK_HOURS)
    weeks: int = Field(default=2, ge=1, le=6)
    rise: float = Field(default=0.25, gt=0, le=100)
    alpha: float = Field(default=1e-3, gt=0, lt=1)
    min_volume: float = Field(default=20, ge=0)
    min_consecutive_hours: int = Field(default=6, ge=1, le=72)
    halflife_hours: float = Field(default=12.0, gt=0, le=WEEK_HOURS)


def ewma_log_ratio(current: np.ndarray, previous: np.ndarray, halflife: float) -> np.ndarray:
    """EWMA over columns of log((cur+0.5)/(prev+0.5)), the last column's value per row."""
    ratio = np.log((np.nan_to_num(current) + 0.5) / (np.nan_to_num(previous) + 0.5))
    decay = 0.5 ** (1.0 / halflife)
    weights = decay ** np.arange(ratio.shape[1] - 1, -1, -1)
    return (ratio * weights).sum(axis=1) / weights.sum()


def seasonal_expectation(
    values: np.ndarray, weeks: int, columns: int, baseline: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The last ``columns`` counts, their expectations, and where both are known.

    An hour's expectation is the mean of the same hour and its two neighbours in each of
    the ``weeks`` weeks before (3 x weeks samples: a steadier base than one hour each),
    of those known in ``baseline`` (the values without their anomalous hours) if at least
    half are, floored at a quarter of the series' mean over those weeks. Every quantity of
    a column depends on that column's own past only, never on the hour being judged, so
    one column means the same in every window it is part of (what lets a scan share the
    work); the samples lie a week or more back, so flags set since do not change them.
    """
    n = values.shape[1]
    span = weeks * WEEK_HOURS
    if n < columns + span + 1:
        raise ValueError(f"need {columns + span + 1} columns, got {n}")
    known = np.isfinite(values)
    filled = np.where(known, values, 0.0)
    base = values if baseline is None else baseline
    base_known = np.isfinite(base)
    base_filled = np.where(base_known, base, 0.0)
    first = n - columns
    # the lagged hours of every column are contiguous: slices (views), not gathers
    starts = [first - j * WEEK_HOURS + d for j in range(1, weeks + 1) for d in (-1, 0, 1)]
    total = np.zeros((values.shape[0], columns))
    seen = np.zeros((values.shape[0], columns), dtype=np.int32)
    for a in starts:
        total += base_filled[:, a : a + columns]
        seen += base_known[:, a : a + columns]
    expected = total / np.maximum(seen, 1)
    usable = known[:, first:] & (2 * seen >= len(starts))
    # the level of the weeks before each column: sum and count of known hours
    # (sum over [c - span, c) = csum[c - 1] - csum[c - span - 1]; first - span - 1 >= 0)
    csum = np.cumsum(filled, axis=1)
    ccount = np.cumsum(known, axis=1, dtype=np.int32)
    level_sum = csum[:, first - 1 : n - 1] - csum[:, first - span - 1 : n - span - 1]
    count = ccount[:, first - 1 : n - 1] - ccount[:, first - span - 1 : n - span - 1]
    level = np.where(count > 0, level_sum / np.maximum(count, 1), 0.0)
    # never expect nothing: one complaint where none is usual is not a trend by itself
    floor = np.maximum(level * 0.25, 0.05)
    return filled[:, first:], np.maximum(expected, floor), usable


def poisson_llr(counts: np.ndarray, expected: np.ndarray, ratio: float) -> np.ndarray:
    """Per hour: log-likelihood ratio of "rate x ``ratio``" against "rate as expected".

    Each hour's count is capped a few standard deviations above the risen rate: one burst
    (a billing run, an outage hour) is the threshold detectors' business, not a trend.
    """
    risen = expected * ratio
    capped = np.minimum(counts, risen + 4.0 * np.sqrt(risen) + 2.0)
    return capped * np.log(ratio) - expected * (ratio - 1.0)


def windowed_cusum(llr: np.ndarray, run: int, ends: int) -> tuple[np.ndarray, np.ndarray]:
    """Page's CUSUM S = max(0, S + llr) started ``run`` columns before each of the last
    ``ends`` columns; (S at each end, cumulative sums of llr with a leading 0).

    Unrolled: S at the end of a run equals the last cumulative sum minus the smallest one
    in the run (S returns to 0 exactly where the cumulative sum sets a new low), so every
    end's statistic is one sliding minimum over one cumulative sum.
    """
    rows, n = llr.shape
    csum = np.zeros((rows, n + 1))
    np.cumsum(llr, axis=1, out=csum[:, 1:])
    stat = csum[:, n - ends + 1 :] - _runs(csum, run, ends).min(axis=2)
    return np.maximum(stat, 0.0), csum


def _runs(csum: np.ndarray, run: int, ends: int) -> np.ndarray:
    """[rows, ends, run + 1]: each end's run of cumulative sums (a view, no copy)."""
    first = csum.shape[1] - 1 - ends - run + 1  # csum index where the first end's run starts
    return np.lib.stride_tricks.sliding_window_view(csum[:, first:], run + 1, axis=1)


def run_starts(
    csum: np.ndarray, run: int, ends: int, rows: np.ndarray, at: np.ndarray
) -> np.ndarray:
    """For the given (row, end) cells: how many columns into its run the CUSUM last was 0
    (the start of the excess it measures), at most ``run - 1``."""
    cells = _runs(csum, run, ends)[rows, at]  # [cells, run + 1]
    last_low = run - np.argmin(cells[:, ::-1], axis=1)
    return np.minimum(last_low, run - 1)


class EarlyTrendDetector(Detector):
    name: ClassVar[str] = "early_trend"
    config_model: ClassVar[type[EarlyTrendConfig]] = EarlyTrendConfig
    config: EarlyTrendConfig
    leaves_out_anomalous_hours: ClassVar[bool] = True

    def history_hours(self) -> int:
        cfg = self.config
        if cfg.method == "cusum":
            return cfg.weeks * WEEK_HOURS + cfg.run_hours + 1
        return cfg.weeks * WEEK_HOURS + cfg.window_hours + cfg.min_consecutive_hours

    def min_known_hours(self) -> int:
        if self.config.method == "cusum":  # a day with its full baseline
            return self.config.weeks * WEEK_HOURS + 24
        return self.history_hours()

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        if self.config.method == "cusum":
            return self._cusum(window, 1)
        return self._window(window)

    def scan(self, window: SeriesWindow, ends: int) -> list[Finding]:
        if self.config.method == "cusum":
            return self._cusum(window, ends)
        return scan_by_ends(self, window, ends)

    def _cusum(self, window: SeriesWindow, ends: int) -> list[Finding]:
        cfg = self.config
        run = cfg.run_hours
        width = self.history_hours() + ends - 1
        values = last_columns(window.values, width)
        baseline = last_columns(baseline_values(window, width), width)
        columns = run + ends - 1  # every column some end's run covers
        counts, expected, usable = seasonal_expectation(values, cfg.weeks, columns, baseline)
        counts, expected = counts * usable, expected * usable
        # quasi-Poisson: the evidence of counts noisier than Poisson is worth 1/phi as much
        phi = weekly_dispersion(values, columns)
        llr = poisson_llr(counts / phi, expected / phi, 1.0 + cfg.rise)
        stat, csum = windowed_cusum(llr, run, ends)
        # a young series runs on the hours it has: at least a day with a full baseline
        enough = rolling_sums(usable, 24, ends) == 24
        last_day = rolling_sums(counts, 24, ends)
        firing = enough & (stat >= cfg.threshold) & (last_day > rolling_sums(expected, 24, ends))
        rows, at = np.nonzero(firing)
        if not rows.size:
            return []
        start = run_starts(csum, run, ends, rows, at)
        zero = np.zeros((len(values), 1))
        csum_x = np.concatenate([zero, np.cumsum(counts, axis=1)], axis=1)
        csum_mu = np.concatenate([zero, np.cumsum(expected, axis=1)], axis=1)
        first, stop = at + start, at + run  # the excess's columns (in counts coordinates)
        observed = csum_x[rows, stop] - csum_x[rows, first]
        baseline = csum_mu[rows, stop] - csum_mu[rows, first]
        hours_at = end_hours(window, ends)
        findings = []
        for k in np.flatnonzero(observed >= cfg.min_volume):
            i, e = int(rows[k]), int(at[k])
            key = window.keys[i]
            obs, base, h = float(observed[k]), float(baseline[k]), run - int(start[k])
            s_ie = float(stat[i, e])
            findings.append(
                finding(
                    self.name,
                    key,
                    int(hours_at[e]),
                    max(h, 1),
                    obs,
                    base,
                    score=s_ie,
                    explanation=(
                        f"early trend: {key.metric} {number(obs)} in the last {h}h vs "
                        f"{number(base)} expected from the same hours of the previous "
                        f"{cfg.weeks} week(s) ({pct(obs, base) or 0:+.0f}%); the CUSUM "
                        f"for a {cfg.rise:.0%} rise stands at {s_ie:.1f} "
                        f"(alarm at {cfg.threshold:g})"
                    ),
                )
            )
        return findings

    def _window(self, window: SeriesWindow) -> list[Finding]:
        cfg = self.config
        w, k, m = cfg.window_hours, cfg.weeks, cfg.min_consecutive_hours
        values = window.values
        if values.shape[1] < self.history_hours():
            return []
        complete = np.isfinite(values[:, -self.history_hours() :]).all(axis=1)
        if not complete.any():
            return []
        current = rolling_sums(values, w, m)  # [rows, m]
        baseline = sum(rolling_sums(values, w, m, lag=j * WEEK_HOURS) for j in range(1, k + 1))
        total = current + baseline
        cur_i = np.rint(current).astype(np.int64)
        from scipy import stats  # on first use: most of a second, and the CLI loads configs

        p_values = np.where(
            total > 0,
            stats.binom.sf(cur_i - 1, np.rint(total).astype(np.int64), 1.0 / (k + 1)),
            1.0,
        )
        mean_base = baseline / k
        with np.errstate(divide="ignore", invalid="ignore"):
            change = np.where(mean_base > 0, current / mean_base - 1.0, np.inf)
        steady = ((p_values <= cfg.alpha) & (change >= cfg.rise)).all(axis=1)
        trend = ewma_log_ratio(
            values[:, -w:], values[:, -WEEK_HOURS - w : -WEEK_HOURS], cfg.halflife_hours
        )
        firing = complete & steady & (current[:, -1] >= cfg.min_volume) & (trend > 0)
        findings = []
        for i in np.flatnonzero(firing):
            key = window.keys[i]
            cur, base, p = float(current[i, -1]), float(mean_base[i, -1]), float(p_values[i, -1])
            findings.append(
                finding(
                    self.name,
                    key,
                    window.end_hour,
                    w,
                    cur,
                    base,
                    p_value=p,
                    explanation=(
                        f"early trend: {key.metric} {number(cur)} in the last {w}h vs "
                        f"{number(base)} in the same hours of the previous {k} week(s) "
                        f"({pct(cur, base) or 0:+.0f}%), significant for {m} hours "
                        f"running (p={p:.2g}), EWMA trend {float(trend[i]):+.2f}"
                    ),
                )
            )
        return findings
