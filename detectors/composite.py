"""Two-signal detectors: complaints read together with a network KPI of the same region.

* ``site_fault``: complaints rising *and* a KPI (packet loss, latency, utilisation)
  degrading over the same hours -> "site fault precursor", with both series as evidence.
* ``peak_congestion``: complaints concentrated in the evening peak *and* utilisation near
  saturation in those hours -> "capacity shortage" (not a fault): the remedy is capacity.
"""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar, Literal

import numpy as np
from pydantic import Field, model_validator

from detectors.base import (
    HOUR_MS,
    Detector,
    DetectorConfig,
    Finding,
    SeriesWindow,
    Signal,
    end_hours,
    finding,
    pad_left,
    pct,
    rolling_sums,
    scan_by_ends,
)
from detectors.burst import (
    BurstConfig,
    BurstDetector,
    base_spread,
    history_weeks,
    hourly_model,
    own_dispersion,
)
from detectors.numbers import number
from detectors.timeaxis import WEEK_HOURS
from detectors.wow import significant_rises


class SiteFaultConfig(DetectorConfig):
    # evidence: the KPI's own anomaly and a complaint rise, combined (Stouffer);
    # wow: both must rise week over week on their own (the stricter, older rule)
    method: Literal["evidence", "wow"] = "evidence"
    kpi_metric: str = "kpi.packet_loss.mean"
    window_hours: int = Field(default=24, ge=6, le=WEEK_HOURS)
    # evidence: z of the KPI's excess, of the complaints' excess, and of both together
    kpi_z: float = Field(default=4.0, gt=0, le=50)
    complaint_z: float = Field(default=0.0, ge=-50, le=50)
    combined_z: float = Field(default=5.0, gt=0, le=50)
    # both methods: the KPI mean must rise by this fraction, and by this much in its units
    kpi_rise: float = Field(default=0.25, gt=0, le=1000)
    kpi_min_delta: float = Field(default=0.0, ge=0)
    # wow: the complaints' week-over-week test
    rise: float = Field(default=0.25, gt=0, le=100)
    alpha: float = Field(default=1e-4, gt=0, lt=1)
    min_volume: float = Field(default=30, ge=0)


class SiteFaultDetector(Detector):
    name: ClassVar[str] = "site_fault"
    config_model: ClassVar[type[SiteFaultConfig]] = SiteFaultConfig
    config: SiteFaultConfig

    def history_hours(self) -> int:
        if self.config.method == "evidence":
            return BurstDetector(EXPECTATION).history_hours() + self.config.window_hours
        return WEEK_HOURS + self.config.window_hours

    def context_metrics(self) -> list[str]:
        return [self.config.kpi_metric]

    def min_known_hours(self) -> int:
        if self.config.method == "evidence":  # half a window with daily expectations
            return EXPECTATION.min_days * 24 + self.config.window_hours // 2
        return self.history_hours()

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        return self.scan(window, 1)

    def scan(self, window: SeriesWindow, ends: int) -> list[Finding]:
        kpi = window.context.get(self.config.kpi_metric)
        if kpi is None:
            return []
        if self.config.method == "evidence":
            return self._evidence(window, kpi, ends)
        return self._wow(window, kpi, ends)

    def _evidence(self, window: SeriesWindow, kpi: np.ndarray, ends: int) -> list[Finding]:
        """A degrading site shows in its KPI first; complaints follow, weakly at first.
        Each signal's excess over the last ``window_hours`` is a z-score against its own
        hour-by-hour expectation; their Stouffer sum fires when the KPI's anomaly stands
        on its own and the complaints lean the same way."""
        from scipy import stats  # on first use: most of a second, and the CLI loads configs

        cfg = self.config
        w = cfg.window_hours
        need = self.history_hours() + ends - 1
        values, kpi = pad_left(window.values, need), pad_left(kpi, need)
        z_c, seen_c, got_c, base_c = excess_z(values, w, ends)
        z_k, seen_k, got_k, base_k = excess_z(kpi, w, ends)
        with np.errstate(invalid="ignore", divide="ignore"):
            kpi_now, kpi_before = got_k / seen_k, base_k / seen_k
            degraded = (kpi_now >= kpi_before * (1 + cfg.kpi_rise)) & (
                kpi_now - kpi_before >= cfg.kpi_min_delta
            )
            combined = (z_c + z_k) / np.sqrt(2.0)
            firing = (
                degraded
                & (z_k >= cfg.kpi_z)
                & (z_c >= cfg.complaint_z)
                & (combined >= cfg.combined_z)
                & (seen_k >= w / 2)
                & (seen_c >= w / 2)
            )
        rows, at = np.nonzero(firing)
        hours = end_hours(window, ends)
        findings = []
        for i, e in zip(rows.tolist(), at.tolist(), strict=True):
            key = window.keys[i]
            cur, prev, z = float(got_c[i, e]), float(base_c[i, e]), float(combined[i, e])
            findings.append(
                finding(
                    self.name,
                    key,
                    int(hours[e]),
                    w,
                    cur,
                    prev,
                    p_value=float(stats.norm.sf(z)),
                    score=z,
                    signal=Signal(cfg.kpi_metric, float(kpi_now[i, e]), float(kpi_before[i, e])),
                    explanation=(
                        f"site fault precursor: {cfg.kpi_metric} {number(kpi_before[i, e])} -> "
                        f"{number(kpi_now[i, e])} over the last {w}h (z={z_k[i, e]:.1f}) while "
                        f"{key.metric} ran at {number(cur)} vs {number(prev)} usual for those "
                        f"hours ({pct(cur, prev) or 0:+.0f}%, z={z_c[i, e]:.1f}): "
                        f"inspect the sites"
                    ),
                )
            )
        return findings

    def _wow(self, window: SeriesWindow, kpi: np.ndarray, ends: int) -> list[Finding]:
        cfg = self.config
        w = cfg.window_hours
        need = WEEK_HOURS + w + ends - 1
        values, kpi = pad_left(window.values, need), pad_left(kpi, need)
        current = rolling_sums(values, w, ends)
        previous = rolling_sums(values, w, ends, lag=WEEK_HOURS)
        known = np.isfinite(kpi)
        with np.errstate(invalid="ignore", divide="ignore"):  # no KPI data: NaN means
            kpi_now = rolling_sums(kpi, w, ends) / rolling_sums(known, w, ends)
            kpi_before = rolling_sums(kpi, w, ends, lag=WEEK_HOURS) / rolling_sums(
                known, w, ends, lag=WEEK_HOURS
            )
            kpi_change = np.where(kpi_before > 0, kpi_now / kpi_before - 1.0, np.inf)
            degraded = (kpi_change >= cfg.kpi_rise) & (kpi_now - kpi_before >= cfg.kpi_min_delta)
        hours = end_hours(window, ends)
        findings = []
        for flat, p in significant_rises(
            current.ravel(),
            previous.ravel(),
            rise=cfg.rise,
            min_volume=cfg.min_volume,
            alpha=cfg.alpha,
            mask=degraded.ravel(),
        ):
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
                    signal=Signal(cfg.kpi_metric, float(kpi_now[i, e]), float(kpi_before[i, e])),
                    explanation=(
                        f"site fault precursor: {key.metric} {number(cur)} vs {number(prev)} a "
                        f"week earlier ({pct(cur, prev) or 0:+.0f}%, p={p:.2g}) while "
                        f"{cfg.kpi_metric} rose from {number(kpi_before[i, e])} to "
                        f"{number(kpi_now[i, e])} over the same {w}h: inspect the sites"
                    ),
                )
            )
        return findings


# the hour-by-hour expectation both signals are measured against (the burst detector's)
EXPECTATION = BurstConfig(min_weeks=3)


def excess_z(
    values: np.ndarray, w: int, ends: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Over the ``w`` hours ending at each of the last ``ends`` columns: the z-score of the
    summed excess over the hourly expectations, the hours known, the sum and its expectation.

    The variance of the sum adds each hour's sampling spread and the series' own relative
    dispersion, measured once per window, before its first hour (not once per hour: the
    live tick does this for every series)."""
    columns = ends + w - 1
    values = pad_left(values, history_weeks(EXPECTATION) * WEEK_HOURS + columns)
    n = values.shape[1]
    hours = np.arange(n - columns, n)
    expected, local, judgeable, _, counts, _ = hourly_model(values, EXPECTATION, hours, 0)
    base = base_spread(expected, local, counts, EXPECTATION)
    observed = values[:, -columns:]
    usable = judgeable & np.isfinite(observed)
    got = rolling_sums(np.where(usable, observed, 0.0), w, ends)
    mean = rolling_sums(np.where(usable, expected, 0.0), w, ends)
    sampling = rolling_sums(np.where(usable, base**2, 0.0), w, ends)
    squares = rolling_sums(np.where(usable, expected**2, 0.0), w, ends)
    relative = own_dispersion(values, EXPECTATION, np.arange(n - columns, n - w + 1))
    var = sampling + np.nan_to_num(relative) ** 2 * squares
    seen = rolling_sums(usable, w, ends)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = np.where(var > 0, (got - mean) / np.sqrt(var), 0.0)
    return z, seen, got, mean


class PeakCongestionConfig(DetectorConfig):
    utilisation_metric: str = "kpi.bandwidth_utilisation.max"
    peak_start_hour: int = Field(default=20, ge=0, le=23)  # local time
    peak_end_hour: int = Field(default=22, ge=1, le=24)  # exclusive
    # local zone vs UTC; by default the config's zone (daylight saving included)
    offset_hours: int | None = Field(default=None, ge=-12, le=14)
    utilisation_threshold: float = Field(default=90.0, gt=0, le=100)
    min_hot_hours: int = Field(default=1, ge=1, le=24)
    # of the day's complaints, in the peak's hours; None: twice what an even spread puts
    # there (2 of 24 hours: 17%; at most 90%). At 0 saturation alone fired, and tickets
    # said "capacity shortage" of evenings that held 3% of the day's complaints, or none
    min_peak_share: float | None = Field(default=None, ge=0, le=1)

    @property
    def peak_hours(self) -> int:
        return self.peak_end_hour - self.peak_start_hour

    @model_validator(mode="after")
    def _peak_in_one_evening(self) -> PeakCongestionConfig:
        # 22 -> 20 was taken, and judged 22 hours of the day as "the peak" at 19:00
        if self.peak_end_hour <= self.peak_start_hour:
            raise ValueError(
                f"peak_end_hour ({self.peak_end_hour}) must be after peak_start_hour "
                f"({self.peak_start_hour}): a peak across midnight is not supported"
            )
        if self.min_hot_hours > self.peak_hours:
            raise ValueError(
                f"min_hot_hours ({self.min_hot_hours}) is more than the peak's "
                f"{self.peak_hours} hours: it could never fire"
            )
        return self

    def peak_share(self) -> float:
        """The share of the day's complaints the peak must hold to count as concentrated."""
        if self.min_peak_share is not None:
            return self.min_peak_share
        return min(2 * self.peak_hours / 24, 0.9)


USUAL_DAYS = 7  # evenings before the judged one that give its normal


def _usual_peak(values: np.ndarray, span: int, even: np.ndarray) -> np.ndarray:
    """Per row, the mean of the peak's complaints over the ``USUAL_DAYS`` evenings before
    the last (those with a known hour); ``even`` where none is known. The normal a ticket
    showed was the day's even spread: broadband lag peaks every evening, so "+140%" told
    of an evening barely above its usual."""
    n = values.shape[1]
    evenings = [
        values[:, n - 24 * k - span : n - 24 * k]
        for k in range(1, USUAL_DAYS + 1)
        if n - 24 * k - span >= 0  # within the window (a negative start counts from its end)
    ]
    if not evenings:
        return even
    stacked = np.stack(evenings, axis=1)  # rows x evenings x peak hours
    known = ~np.isnan(stacked).all(axis=2)
    sums = np.where(known, np.nansum(stacked, axis=2), 0.0)
    count = known.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, sums.sum(axis=1) / count, even)


class PeakCongestionDetector(Detector):
    name: ClassVar[str] = "peak_congestion"
    cadence_hours: ClassVar[int] = 24  # judged at the close of each day's peak
    config_model: ClassVar[type[PeakCongestionConfig]] = PeakCongestionConfig
    config: PeakCongestionConfig

    def history_hours(self) -> int:
        return 24 * (1 + USUAL_DAYS)  # the day judged, and the evenings its normal comes from

    def min_known_hours(self) -> int:
        return 24  # the day judged: a young series' normal is the day's even spread

    def context_metrics(self) -> list[str]:
        return [self.config.utilisation_metric]

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        """Judged once a day, at the close of the last peak hour."""
        cfg = self.config
        if cfg.offset_hours is None:
            local_hour = datetime.fromtimestamp(window.end_hour / 1000, tz=window.zone).hour
        else:
            local_hour = (window.end_hour // HOUR_MS + cfg.offset_hours) % 24
        if local_hour != cfg.peak_end_hour - 1:
            return []
        util = window.context.get(cfg.utilisation_metric)
        if util is None:
            return []
        span = cfg.peak_hours
        peak_util = util[:, -span:]
        peak_complaints = np.nansum(window.values[:, -span:], axis=1)
        day_complaints = np.nansum(window.values[:, -24:], axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            hot = (peak_util > cfg.utilisation_threshold).sum(axis=1)
            share = np.where(day_complaints > 0, peak_complaints / day_complaints, 0.0)
        firing = (hot >= cfg.min_hot_hours) & (share >= cfg.peak_share())
        usual = _usual_peak(window.values, span, day_complaints * span / 24)
        findings = []
        for i in np.flatnonzero(firing):
            key = window.keys[i]
            top = float(np.nanmax(peak_util[i]))
            # the figures are the judged metric's (the complaints): the peak's against its
            # usual evenings; the utilisation is the reason, told in words
            findings.append(
                finding(
                    self.name,
                    key,
                    window.end_hour,
                    span,
                    float(peak_complaints[i]),
                    float(usual[i]),
                    score=top - cfg.utilisation_threshold,
                    signal=Signal(cfg.utilisation_metric, top, limit=cfg.utilisation_threshold),
                    explanation=(
                        f"capacity shortage, not a fault: {cfg.utilisation_metric} up to "
                        f"{top:.1f}% in {int(hot[i])} of the {cfg.peak_start_hour:02d}:00-"
                        f"{cfg.peak_end_hour:02d}:00 hours, with {share[i]:.0%} of the "
                        f"day's {key.metric} in that peak ({span / 24:.0%} if spread evenly)"
                    ),
                )
            )
        return findings

    def scan(self, window: SeriesWindow, ends: int) -> list[Finding]:
        """Judged once a day, so the reference scan costs little."""
        return scan_by_ends(self, window, ends)
