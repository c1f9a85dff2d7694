"""Bursts and drops: each hour against what this hour of the day (or week) usually brings.

Why per hour: a crash count that jumps from ~6 to 2,000 for thirteen hours, or complaint
intake that collapses because the hotline is down, is an incident *in that hour*; a 7-day
sum spreads it over a week and sees it days late, or never.

The expectation of an hour is the median of the same hour on the previous ``days`` days
(from the third day of a series on), or of the same hour of the week in the previous
``weeks`` weeks once ``min_weeks`` of them are known (weekly rhythm: Mondays are not
Sundays). Medians leave earlier anomalies out without having to know where they were: one
bad day among seven, or one holiday week among four, does not move them.

The spread is the larger of the samples' own robust spread (1.4826 x MAD: the series'
overdispersion, as a negative-binomial or quasi-Poisson model would have it), the Poisson
noise of the expectation for count series, and ``min_relative_spread`` of it for any
series, so non-integer rates (below 1 as well) are judged on their own scale. An hour
fires when it lies ``k`` spreads above (``burst``) or below (``drop``) the expectation
*and* differs by at least ``min_change`` of it: significant and large enough to matter.

>>> import numpy as np
>>> from detectors import BurstDetector, SeriesKey, SeriesWindow
>>> hours = np.tile([5.0, 6.0, 7.0, 6.0], 60)[: 3 * 24 + 1]
>>> hours[-1] = 60.0  # ten times the usual
>>> window = SeriesWindow([SeriesKey("r1", "complaints.total")], hours[None, :], end_hour=0)
>>> [round(f.observed) for f in BurstDetector().evaluate(window)]
[60]
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field, model_validator

from detectors.base import (
    Detector,
    DetectorConfig,
    Finding,
    SeriesWindow,
    end_hours,
    finding,
    pad_left,
    pct,
)
from detectors.numbers import number
from detectors.timeaxis import WEEK_HOURS

MAD_TO_SIGMA = 1.4826  # a normal distribution's standard deviation per unit of MAD


def _change(observed: float, baseline: float) -> str:
    """ "+35%, " (nothing where the usual is zero: a rise from nothing has no percent)."""
    change = pct(observed, baseline)
    return "" if change is None else f"{change:+.0f}%, "


class BurstConfig(DetectorConfig):
    k: float = Field(default=8.0, gt=0, le=50)  # spreads from the expectation
    min_change: float = Field(default=0.5, ge=0, le=100)  # and this fraction of it
    min_excess: float = Field(default=0.0, ge=0)  # and at least this much (series' units)
    days: int = Field(default=7, ge=2, le=28)  # daily samples: same hour, days before
    min_days: int = Field(default=2, ge=2, le=28)  # known daily samples to judge at all
    weeks: int = Field(default=4, ge=2, le=12)  # weekly samples: same hour of the week
    min_weeks: int = Field(default=2, ge=2, le=12)  # known weekly samples to use them
    early_days: bool = True  # judge on the daily samples alone until the weeks are known
    min_relative_spread: float = Field(default=0.1, ge=0, le=10)
    poisson_alpha: float = Field(default=1e-7, gt=0, lt=1)

    @model_validator(mode="after")
    def _minimums_within_samples(self) -> BurstConfig:
        if self.min_days > self.days or self.min_weeks > self.weeks:
            raise ValueError("min_days must be <= days and min_weeks <= weeks")
        return self


def _samples(
    values: np.ndarray, columns: np.ndarray, *lag_sets: np.ndarray
) -> list[list[np.ndarray]]:
    """For each set of lags: the given columns, each ``lag`` back, one [rows, columns]
    array per lag, in float32 with unknown as +inf (ranked last by the sorting network).

    float32: half the memory traffic, and a median of counts or KPIs needs no more than
    its 7 significant digits. Converted once over the span the samples come from."""
    deepest = max(int(lags.max()) for lags in lag_sets)
    lo, hi = int(columns.min()) - deepest, int(columns.max()) + 1
    source = values[:, lo:hi].astype(np.float32)
    source[np.isnan(source)] = np.inf
    at = columns - lo
    return [[source[:, at - lag] for lag in lags] for lags in lag_sets]


def _median_and_spread(
    lanes: list[np.ndarray], spread: bool = True
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per (row, column): median, robust spread (NaN unless ``spread``) and how many
    samples were known.

    A handful of samples per cell: ranking them with a sorting network over whole arrays
    is far cheaper than ``nanmedian`` or a sort per cell, which the live tick and a year's
    replay would pay on every series and hour.
    """
    known = sum(np.isfinite(lane).astype(np.int8) for lane in lanes)
    median = _middle(_sort_small(lanes), known)
    if not spread:
        return median.astype(float), np.full(median.shape, np.nan), known
    with np.errstate(invalid="ignore"):  # inf - inf: a cell without samples, NaN anyway
        mad = _middle(_sort_small([np.abs(lane - median) for lane in lanes]), known)
    return median.astype(float), MAD_TO_SIGMA * mad.astype(float), known


def _sort_small(lanes: list[np.ndarray]) -> list[np.ndarray]:
    """The samples (unknown as +inf) ranked, one array per rank, by an odd-even
    transposition network: a few element-wise min/max passes over whole arrays."""
    ranked = list(lanes)
    k = len(ranked)
    for step in range(k):
        for i in range(step % 2, k - 1, 2):
            low, high = ranked[i], ranked[i + 1]
            ranked[i], ranked[i + 1] = np.minimum(low, high), np.maximum(low, high)
    return ranked


def _middle(lanes: list[np.ndarray], known: np.ndarray) -> np.ndarray:
    """The median of the ``known`` smallest of the ranked lanes, per cell (NaN: none).

    Most cells know every sample: their median is two lanes' mean; a cell that knows none
    (a series younger than the lags: every weekly cell in its first week) is NaN; only the
    cells with some gaps are picked out and handled by their count."""
    k = len(lanes)
    out = (lanes[(k - 1) // 2] + lanes[k // 2]) / np.float32(2.0)
    out[known == 0] = np.nan
    partial = np.nonzero((known > 0) & (known < k))
    if partial[0].size:
        counts = known[partial]
        sub = [lane[partial] for lane in lanes]
        fill = np.full(counts.shape, np.nan, dtype=out.dtype)
        for count in range(1, k):
            pick = counts == count
            fill[pick] = (sub[(count - 1) // 2][pick] + sub[count // 2][pick]) / 2.0
        out[partial] = fill
    return out


def hourly_model(
    values: np.ndarray, cfg: BurstConfig, columns: np.ndarray, sign: int, spread: bool = True
) -> tuple[np.ndarray, ...]:
    """At the given columns, from the columns before: (expected, local spread, judgeable,
    the neutral expectation that measures past misses, whether the samples are counts,
    whether the weeks are known).

    Once weeks are known, an hour must stand out from both the same hour of the week and
    the same hour of the recent days (above the larger for a burst, below the smaller for
    a drop): a few unusual weeks, or a weekday unlike the others, cannot alone make one.
    Its local spread is then the weekly samples', whichever expectation wins: the same
    hour of the last days spreads by the weekly rhythm itself (Monday is not Friday, nor
    Saturday), which made a weekday holiday's fall to a fifth "under two spreads".
    """
    daily_samples, weekly_samples = _samples(
        values, columns, np.arange(1, cfg.days + 1) * 24, np.arange(1, cfg.weeks + 1) * WEEK_HOURS
    )
    daily = _median_and_spread(daily_samples, spread)
    weekly = _median_and_spread(weekly_samples, spread)
    use_weekly = weekly[2] >= cfg.min_weeks
    neutral = np.where(use_weekly, weekly[0], daily[0])
    with np.errstate(invalid="ignore"):
        weekly_wins = (weekly[0] >= daily[0]) if sign > 0 else (weekly[0] <= daily[0])
    if sign == 0:  # neither side: the sums of many hours (site_fault's evidence)
        weekly_wins = np.ones_like(use_weekly)
    pick = use_weekly & (weekly_wins | ~np.isfinite(daily[0]))
    expected = np.where(pick, weekly[0], daily[0])
    local = np.where(use_weekly, weekly[1], daily[1])
    judgeable = (use_weekly | (daily[2] >= cfg.min_days)) & np.isfinite(expected)
    counts = _whole(daily_samples) & _whole(weekly_samples)
    return expected, local, judgeable, neutral, counts, use_weekly


def _whole(lanes: list[np.ndarray]) -> np.ndarray:
    """Per cell: are the known samples whole numbers (counts, with Poisson noise at least)?
    (Unknown samples are +inf, which counts as whole.)"""
    whole = np.ones(lanes[0].shape, dtype=bool)
    for lane in lanes:
        whole &= lane == np.rint(lane)
    return whole


# the series' own dispersion is measured on the hours 1, 8, 15, ... 162 before the judged
# one: 24 hours that cover every hour of the day once (7 and 24 share no factor), at a
# seventh of the cost of the whole week (the live tick computes them for every series)
DISPERSION_LAGS = np.arange(1, WEEK_HOURS, 7)


def expectation(
    values: np.ndarray, cfg: BurstConfig, columns: int, sign: int = 1
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(expected, spread, judgeable, counts) for each of the last ``columns`` columns.

    ``counts``: the samples are whole numbers, so Poisson noise is the least spread.
    ``sign``: +1 judges bursts, -1 drops, 0 neither (one expectation, for sums of hours).

    Every quantity of a column depends on earlier columns only, so a column means the same
    in every window that holds it: a scan over many hours equals one call per hour.
    """
    values = pad_left(values, history_weeks(cfg) * WEEK_HOURS + columns)
    n = values.shape[1]
    judged = np.arange(n - columns, n)
    # one model over the judged hours and the earlier ones that measure the dispersion:
    # over a week of judged hours they overlap by half
    earlier = np.unique((judged[None, :] - DISPERSION_LAGS[:, None]).ravel())
    both = np.union1d(judged, earlier)
    model = hourly_model(values, cfg, both, sign)
    relative = own_dispersion(values, cfg, judged, (both, model))
    at = np.searchsorted(both, judged)
    expected, local, judgeable, _, counts, weekly = (part[:, at] for part in model)
    if not cfg.early_days:  # (the dispersion above still measures the early days' misses)
        judgeable = judgeable & weekly
    spread = np.fmax(base_spread(expected, local, counts, cfg), relative * np.abs(expected))
    return expected, spread, judgeable, counts


def history_weeks(cfg: BurstConfig) -> int:
    """Weeks of columns before the first judged one: the samples and the dispersion's."""
    return cfg.weeks + 1


def base_spread(
    expected: np.ndarray, local: np.ndarray, counts: np.ndarray, cfg: BurstConfig
) -> np.ndarray:
    """The spread before the series' own dispersion: the samples' robust spread, a floor
    relative to the expectation and, for counts, Poisson noise."""
    floor = np.maximum(cfg.min_relative_spread * np.abs(expected), 1e-9)
    poisson = np.where(counts, np.sqrt(np.maximum(expected, 1.0)), 0.0)
    return np.fmax(np.fmax(local, floor), poisson)


def own_dispersion(
    values: np.ndarray,
    cfg: BurstConfig,
    columns: np.ndarray,
    known_model: tuple[np.ndarray, tuple[np.ndarray, ...]] | None = None,
) -> np.ndarray:
    """The series' relative noise before each given column: how far each of 24 earlier
    hours missed its expectation, relative to it and capped at 100% (an earlier anomaly
    counts as one bad hour, not as noise), averaged and scaled to a standard deviation
    (x 1.2533, the mean absolute deviation's factor); NaN with fewer than 8 known.
    ``known_model``: (columns, hourly_model of them) already computed, covering these."""
    earlier = np.unique((columns[None, :] - DISPERSION_LAGS[:, None]).ravel())
    if known_model is None:
        _, _, judgeable, neutral, _, _ = hourly_model(values, cfg, earlier, 0, spread=False)
    else:
        at = np.searchsorted(known_model[0], earlier)
        judgeable, neutral = known_model[1][2][:, at], known_model[1][3][:, at]
    seen_values = values[:, earlier]
    with np.errstate(invalid="ignore", divide="ignore"):
        miss = np.abs(seen_values - neutral) / np.abs(neutral)
    miss = np.where(neutral == 0, np.where(seen_values == 0, 0.0, 1.0), np.minimum(miss, 1))
    miss = np.where(judgeable & np.isfinite(seen_values), miss, np.nan)
    total, seen = _lagged_sums(miss, earlier, columns)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(seen >= 8, 1.2533 * total / seen, np.nan)


MISS_QUANTUM = 2.0**24  # misses in [0, 1] summed as integers: exact in any order


def _lagged_sums(
    miss: np.ndarray, earlier: np.ndarray, columns: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per column: the sum and count of the known misses ``DISPERSION_LAGS`` before it.

    The misses are laid out densely and summed along every seventh column (a running sum
    per residue, two lookups per column) instead of gathering 24 samples per cell; as
    integers, so one column's sum is the same bits whichever block computed it."""
    lo = int(earlier[0])
    width = int(earlier[-1]) - lo + 1
    width += -width % 7
    known = np.isfinite(miss)
    dense = np.zeros((miss.shape[0], width), dtype=np.int64)
    dense[:, earlier - lo] = np.where(known, np.round(miss * MISS_QUANTUM), 0)
    counted = np.zeros_like(dense)
    counted[:, earlier - lo] = known
    newest = columns - DISPERSION_LAGS[0] - lo
    oldest = newest - DISPERSION_LAGS[-1] + DISPERSION_LAGS[0] - 7
    sums = []
    for part in (dense, counted):
        running = part.reshape(part.shape[0], -1, 7).cumsum(axis=1).reshape(part.shape)
        before = np.where(oldest >= 0, running[:, np.maximum(oldest, 0)], 0)
        sums.append(running[:, newest] - before)
    return sums[0] / MISS_QUANTUM, sums[1]


class BurstDetector(Detector):
    """An hour far above its expectation."""

    name: ClassVar[str] = "burst"
    config_model: ClassVar[type[BurstConfig]] = BurstConfig
    config: BurstConfig
    sign: ClassVar[int] = 1

    def history_hours(self) -> int:
        return history_weeks(self.config) * WEEK_HOURS + 1

    def min_known_hours(self) -> int:
        if not self.config.early_days:
            return self.config.min_weeks * WEEK_HOURS + 1
        return self.config.min_days * 24 + 1

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        return self.scan(window, 1)

    def _poisson_agrees(self, observed: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """For counts, the exact Poisson tail must be below ``poisson_alpha`` as well: at
        a handful per hour the normal approximation makes 8 where 1 is usual look like a
        7-sigma event, when chance alone brings it about once in 100,000 series-hours."""
        from scipy import stats  # on first use: most of a second, and the CLI loads configs

        rate = np.maximum(expected, 0.5)
        if self.sign > 0:
            tail = stats.poisson.sf(observed - 1, rate)
        else:
            tail = stats.poisson.cdf(observed, rate)
        return tail <= self.config.poisson_alpha

    def deviation(
        self, observed: np.ndarray, expected: np.ndarray, spread: np.ndarray, counts: np.ndarray
    ) -> np.ndarray:
        """How many spreads the hour lies on the judged side of its expectation
        (``counts``: per cell, whether the samples are whole numbers)."""
        return (observed - expected) / spread

    def scan(self, window: SeriesWindow, ends: int) -> list[Finding]:
        cfg = self.config
        values = pad_left(window.values, self.history_hours() + ends - 1)
        expected, spread, judgeable, counts = expectation(values, cfg, ends, self.sign)
        observed = values[:, -ends:]
        with np.errstate(invalid="ignore"):
            z = self.deviation(observed, expected, spread, counts)
            change = np.abs(observed - expected)
            large = (change >= cfg.min_change * np.abs(expected)) & (change >= cfg.min_excess)
            firing = (z >= cfg.k) & large & judgeable & np.isfinite(observed)
        rows, at = np.nonzero(firing)
        if rows.size:
            keep = self._poisson_agrees(observed[rows, at], expected[rows, at])
            keep |= ~counts[rows, at]
            rows, at = rows[keep], at[keep]
        hours = end_hours(window, ends)
        findings = []
        for i, e in zip(rows.tolist(), at.tolist(), strict=True):
            key = window.keys[i]
            obs, base, zi = float(observed[i, e]), float(expected[i, e]), float(z[i, e])
            findings.append(
                finding(
                    self.name,
                    key,
                    int(hours[e]),
                    1,
                    obs,
                    base,
                    score=abs(zi),
                    explanation=(
                        f"{self.name}: {key.metric} {number(obs)} this hour vs {number(base)} "
                        f"usual for this hour ({_change(obs, base)}{zi:.1f} "
                        f"spreads {'above' if self.sign > 0 else 'below'})"
                    ),
                )
            )
        return findings


class DropConfig(BurstConfig):
    # a count cannot fall further than to zero: from 60 an hour that is ~8 Poisson spreads,
    # from 25 only 5, so a drop is judged at fewer spreads than a burst (and on its short
    # lower tail: DropDetector.deviation)
    k: float = Field(default=5.0, gt=0, le=50)
    min_change: float = Field(default=0.3, ge=0, le=1)
    # before the weeks are known a series' weekend is judged against the weekdays it
    # follows, and falls far below them: a new region's every first Saturday was a drop
    early_days: bool = False


class DropDetector(BurstDetector):
    """An hour far below its expectation: its own kind of finding (and ticket), because a
    collapse of traffic or of complaint intake (a hotline outage) is a different problem
    from a burst of the same series, and is switched on per metric."""

    name: ClassVar[str] = "drop"
    config_model: ClassVar[type[BurstConfig]] = DropConfig
    sign: ClassVar[int] = -1

    def deviation(
        self, observed: np.ndarray, expected: np.ndarray, spread: np.ndarray, counts: np.ndarray
    ) -> np.ndarray:
        """Spreads below; for counts, as the lower tail of a gamma-distributed hour (mean
        the expectation, standard deviation the spread) puts it: Wilson and Hilferty's
        cube root, a normal deviate with the same tail.

        A count cannot fall below zero and varies in proportion to its level, so its lower
        tail is short: counted in plain spreads, a series that varies by a quarter from
        hour to hour had even zero only 4 spreads below its usual, and its collapse (a
        blizzard, the hotline down) was never a drop. For a small fall the two agree. A
        KPI's mean keeps the plain count: its noise does not shrink with its level (a
        night's bandwidth utilisation at 10% varies by as many points as the day's at 60%),
        and the short tail made ordinary nights drops."""
        plain = (expected - observed) / spread
        with np.errstate(invalid="ignore", divide="ignore"):
            relative = spread / expected
            root = np.cbrt(np.maximum(observed, 0.0) / expected)
            cube_root = (1.0 - relative**2 / 9.0 - root) * 3.0 / relative
        return np.where(counts & (expected > 0), cube_root, plain)
