"""Week-over-week rise: the last 7 days against the 7 days before, for count series.

Why a significance test: a rise in percent alone alarms on noise at low volume (2 -> 3
complaints is +50%). Given two Poisson counts over equal windows, the current count
conditioned on their sum is Binomial(sum, 1/2) when the rate has not changed; the
one-sided tail of that binomial is the p-value of "the rate went up". Real counts are
noisier than Poisson, so the test runs on counts divided by the series' own dispersion
(quasi-Poisson, ``detectors.dispersion``). A finding needs all three: rise >= ``rise``,
current volume >= ``min_volume`` and p-value <= ``alpha``.

``min_coverage``: the fraction of the 2 x ``window_hours`` hours that must be known in
each week (a gap of a few hours scales the baseline instead of switching the rule off).
"""

from __future__ import annotations

from typing import ClassVar

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
    pad_left,
    pct,
    rolling_sums,
)
from detectors.dispersion import weekly_dispersion
from detectors.numbers import number


class WeekOverWeekConfig(DetectorConfig):
    rise: float = Field(default=0.20, gt=0, le=100)
    min_volume: float = Field(default=50, ge=0)
    alpha: float = Field(default=1e-3, gt=0, lt=1)
    window_hours: int = Field(default=168, ge=1, le=24 * 28)
    min_coverage: float = Field(default=0.75, gt=0, le=1)


def wow_test(current: np.ndarray, previous: np.ndarray) -> np.ndarray:
    """One-sided p-value that ``current`` comes from a higher Poisson rate than ``previous``."""
    cur = np.rint(current).astype(np.int64)
    prev = np.rint(previous).astype(np.int64)
    total = cur + prev
    from scipy import stats  # on first use: most of a second, and the CLI loads configs

    return np.where(total > 0, stats.binom.sf(cur - 1, total, 0.5), 1.0)


def significant_rises(
    current: np.ndarray,
    previous: np.ndarray,
    *,
    rise: float,
    min_volume: float,
    alpha: float,
    mask: np.ndarray | None = None,
    dispersion: np.ndarray | None = None,
) -> list[tuple[int, float]]:
    """Rows whose count rose by ``rise`` or more, with volume and p <= ``alpha``: (row, p).

    With a ``dispersion`` (quasi-Poisson phi per row), the test runs on counts / phi."""
    with np.errstate(divide="ignore", invalid="ignore"):
        change = np.where(previous > 0, current / previous - 1.0, np.inf)
    candidates = (current >= min_volume) & (change >= rise)
    if mask is not None:
        candidates &= mask
    idx = np.flatnonzero(candidates)
    if not idx.size:
        return []
    phi = 1.0 if dispersion is None else dispersion[idx]
    p_values = wow_test(current[idx] / phi, previous[idx] / phi)
    return [(int(i), float(p)) for i, p in zip(idx, p_values, strict=True) if p <= alpha]


def _change_text(change_pct: float | None) -> str:
    return "new" if change_pct is None else f"{change_pct:+.1f}%"


class WeekOverWeekDetector(Detector):
    name: ClassVar[str] = "wow"
    config_model: ClassVar[type[WeekOverWeekConfig]] = WeekOverWeekConfig
    config: WeekOverWeekConfig
    leaves_out_anomalous_hours: ClassVar[bool] = True

    def history_hours(self) -> int:
        return 2 * self.config.window_hours

    def min_known_hours(self) -> int:
        cfg = self.config
        return int(np.ceil(2 * cfg.window_hours * cfg.min_coverage))

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        return self.scan(window, 1)

    def scan(self, window: SeriesWindow, ends: int) -> list[Finding]:
        cfg = self.config
        w = cfg.window_hours
        values = pad_left(window.values, 2 * w + ends - 1)
        # the week before: its anomalous hours left out, like missing ones
        base = baseline_values(window, 2 * w + ends - 1)
        cur_cover = rolling_sums(np.isfinite(values), w, ends) / w
        prev_cover = rolling_sums(np.isfinite(base), w, ends, lag=w) / w
        covered = np.minimum(cur_cover, prev_cover)
        current = rolling_sums(values, w, ends)
        with np.errstate(divide="ignore", invalid="ignore"):
            # a few missing hours: compare like with like by scaling the baseline
            previous = rolling_sums(base, w, ends, lag=w) * np.where(
                prev_cover > 0, cur_cover / prev_cover, 0.0
            )
        rises = significant_rises(
            current.ravel(),
            previous.ravel(),
            rise=cfg.rise,
            min_volume=cfg.min_volume,
            alpha=cfg.alpha,
            mask=(covered >= cfg.min_coverage).ravel(),
            dispersion=weekly_dispersion(values, ends, w).ravel(),
        )
        hours = end_hours(window, ends)
        findings = []
        for flat, p in rises:
            i, e = divmod(flat, ends)
            key = window.keys[i]
            cur, prev = float(current[i, e]), float(previous[i, e])
            findings.append(
                finding(
                    self.name,
                    key,
                    int(hours[e]),
                    w,
                    cur,
                    prev,
                    p_value=p,
                    explanation=(
                        f"{key.metric}: {number(cur)} in the last {w}h vs {number(prev)} in the "
                        f"{w}h before ({_change_text(pct(cur, prev))}), "
                        f"p={p:.2g} <= {cfg.alpha:g}"
                    ),
                )
            )
        return findings
