"""Pinned behaviour of the seasonal, early-trend, two-signal and hysteresis detectors."""

import numpy as np
import pytest

from detectors import (
    EarlyTrendConfig,
    EarlyTrendDetector,
    PeakCongestionConfig,
    PeakCongestionDetector,
    SeasonalConfig,
    SeasonalDetector,
    SeriesKey,
    SeriesWindow,
    SiteFaultConfig,
    SiteFaultDetector,
    ThresholdConfig,
    ThresholdDetector,
)
from detectors.base import Signal
from tests.domain import HOUR

END = 500_000 * HOUR  # 500000 % 24 == 8: 08:00 UTC


def window(*rows, metric="complaints.broadband_lag", end=END, context=None):
    keys = [SeriesKey(f"r{i}", metric) for i in range(len(rows))]
    return SeriesWindow(keys, np.vstack(rows).astype(float), end, context or {})


def test_hysteresis_keeps_firing_until_back_under_the_clear_line():
    det = ThresholdDetector(
        ThresholdConfig(threshold=10, clear_at=5, min_consecutive_hours=2, lookback_hours=8)
    )
    still_high = np.array([1, 1, 12, 12, 8, 7, 6, 6.0])  # fired, never under 5 since
    cleared = np.array([1, 12, 12, 8, 4, 8, 8, 8.0])  # went under 5: cleared
    assert [f.region for f in det.evaluate(window(still_high, cleared))] == ["r0"]


def test_seasonal_band_ignores_one_past_incident():
    rng = np.random.default_rng(0)
    weeks = 4
    base = rng.poisson(20, size=weeks * 168 + 2).astype(float)
    base[168 : 168 + 24] *= 4  # an incident three weeks ago, same hours
    spike = base.copy()
    spike[-2:] = 80
    quiet = base.copy()
    quiet[-2:] = 22
    det = SeasonalDetector(SeasonalConfig(weeks=weeks, k=4, min_consecutive_hours=2))
    findings = det.evaluate(window(spike, quiet))
    assert [f.region for f in findings] == ["r0"]
    assert 15 < findings[0].baseline < 25  # the median did not move with the old incident


def test_early_trend_window_method_needs_persistence():
    history = 2 * 168 + 24 + 6
    steady = np.full(history, 3.0)
    climbing = steady.copy()
    climbing[-40:] = 6.0  # doubled for 40 hours: the last 6 windows all see it
    blip = steady.copy()
    blip[-3:] = 30.0  # one burst: only the last windows see it
    det = EarlyTrendDetector(
        EarlyTrendConfig(
            method="window",
            window_hours=24,
            weeks=2,
            rise=0.3,
            alpha=1e-3,
            min_volume=10,
            min_consecutive_hours=6,
        )
    )
    assert [f.region for f in det.evaluate(window(climbing, blip, steady))] == ["r0"]


def test_early_trend_cusum_accumulates_a_slow_ramp_and_ignores_noise():
    rng = np.random.default_rng(1)
    cfg = EarlyTrendConfig(weeks=2, run_hours=168, rise=0.25, threshold=12.5, min_volume=15)
    det = EarlyTrendDetector(cfg)
    hours = det.history_hours()
    rate = np.full(hours, 4.0)
    ramp = rate.copy()
    ramp[-72:] *= np.linspace(1.0, 1.8, 72)  # three days of a climb: +40% on average
    quiet = [rng.poisson(rate).astype(float) for _ in range(200)]
    rising = rng.poisson(ramp).astype(float)
    findings = det.evaluate(window(rising, *quiet))
    assert [f.region for f in findings] == ["r0"]  # and none of 200 steady series
    f = findings[0]
    assert f.observed > f.baseline and f.score >= 12.5
    assert "CUSUM" in f.explanation and "25% rise" in f.explanation
    # a single burst of the same excess within one hour is not a trend of the last day
    burst = rng.poisson(rate).astype(float)
    burst[-30] += 60
    assert det.evaluate(window(burst)) == []


def test_early_trend_cusum_runs_on_a_young_series():
    det = EarlyTrendDetector(EarlyTrendConfig(weeks=2, run_hours=168, threshold=8, min_volume=10))
    hours = det.history_hours()
    young = np.full(hours, np.nan)
    young[-(2 * 168 + 48) :] = 5.0  # only 2 weeks + 2 days known
    young[-24:] = 10.0
    assert [f.region for f in det.evaluate(window(young))] == ["r0"]


def test_site_fault_needs_both_signals():
    hours = 168 + 48
    complaints_up = np.concatenate([np.full(168, 4.0), np.full(48, 8.0)])
    loss_up = np.concatenate([np.full(168, 0.2), np.full(48, 2.0)])
    loss_flat = np.full(hours, 0.2)
    det = SiteFaultDetector(SiteFaultConfig(window_hours=48, kpi_rise=1.0, kpi_min_delta=0.3))
    context = {"kpi.packet_loss.mean": np.vstack([loss_up, loss_flat])}
    findings = det.evaluate(window(complaints_up, complaints_up, context=context))
    assert [f.region for f in findings] == ["r0"]
    assert "site fault precursor" in findings[0].explanation
    assert "kpi.packet_loss.mean" in findings[0].explanation
    # the KPI's own figures travel with the finding: 0.2 % before, ~2 % over the window
    signal = findings[0].signal
    assert signal is not None and signal.metric == "kpi.packet_loss.mean"
    assert signal.baseline == pytest.approx(0.2) and signal.observed == pytest.approx(2.0)


def test_peak_congestion_is_judged_at_the_end_of_the_evening_peak():
    # 21:00 local (UTC+8, a fixed offset here; the config's zone by default) is 13:00 UTC
    end = (500_000 - 500_000 % 24 + 13) * HOUR
    complaints = np.full(24, 2.0)
    complaints[-2:] = 6.0  # 12 of the day's 56 in the peak: 21%, an even spread's 8%
    hot = np.full(24, 70.0)
    hot[-2:] = [93.0, 95.0]
    cool = np.full(24, 70.0)
    det = PeakCongestionDetector(PeakCongestionConfig(offset_hours=8))
    context = {"kpi.bandwidth_utilisation.max": np.vstack([hot, cool])}
    findings = det.evaluate(window(complaints, complaints, end=end, context=context))
    assert [f.region for f in findings] == ["r0"]
    assert "capacity shortage, not a fault" in findings[0].explanation
    assert "with 21% of the day's" in findings[0].explanation
    assert "(8% if spread evenly)" in findings[0].explanation
    # its figures are the complaints it is filed under, not the utilisation
    assert (findings[0].observed, findings[0].baseline) == (12.0, 56 / 12)
    # and what fired it, the utilisation against its line, beside them
    assert findings[0].signal == Signal("kpi.bandwidth_utilisation.max", 95.0, limit=90.0)
    assert det.evaluate(window(complaints, complaints, end=end - HOUR, context=context)) == []


def test_peak_congestion_needs_the_complaints_concentrated_in_the_peak():
    """Saturation alone fired: tickets said "capacity shortage" of evenings that held 3%
    of the day's broadband-lag complaints, or none at all."""
    end = (500_000 - 500_000 % 24 + 13) * HOUR
    hot = np.full(24, 70.0)
    hot[-2:] = [93.0, 95.0]
    context = {"kpi.bandwidth_utilisation.max": hot[None, :]}
    det = PeakCongestionDetector(PeakCongestionConfig(offset_hours=8))
    for day in (np.full(24, 2.0), np.zeros(24)):  # an even spread; no complaint at all
        assert det.evaluate(window(day, end=end, context=context)) == []
    quiet_evening = np.full(24, 2.0)
    quiet_evening[-2:] = 0.0
    assert det.evaluate(window(quiet_evening, end=end, context=context)) == []
    # a config that asks for saturation alone still gets it
    alone = PeakCongestionDetector(PeakCongestionConfig(offset_hours=8, min_peak_share=0))
    assert len(alone.evaluate(window(np.full(24, 2.0), end=end, context=context))) == 1


def test_peak_congestion_measures_an_evening_against_its_usual_evenings():
    """The normal a ticket showed was the day's even spread: broadband lag peaks every
    evening, so an evening barely above its usual read "+140%"."""
    end = (500_000 - 500_000 % 24 + 13) * HOUR
    days = 8
    complaints = np.full(24 * days, 2.0)
    peak = np.arange(24 * days) % 24 >= 22  # the last two hours of each day: the peak
    complaints[peak] = 5.0  # the usual evening: 10 complaints
    complaints[-2:] = 6.0  # tonight: 12
    complaints[: 24 * 3] = np.nan  # three evenings unknown: the other four give the normal
    hot = np.full(24 * days, 70.0)
    hot[-2:] = 95.0
    context = {"kpi.bandwidth_utilisation.max": hot[None, :]}
    det = PeakCongestionDetector(PeakCongestionConfig(offset_hours=8))
    (found,) = det.evaluate(window(complaints, end=end, context=context))
    assert (found.observed, found.baseline) == (12.0, 10.0)
    assert found.change_pct == pytest.approx(20.0)
    young = det.evaluate(window(complaints[-24:], end=end, context={
        "kpi.bandwidth_utilisation.max": hot[None, -24:]}))  # fmt: skip
    assert young[0].baseline == pytest.approx(56 / 12)  # no evening before: the even spread
    assert det.min_known_hours() == 24


def test_a_peak_that_ends_before_it_starts_is_refused():
    """22:00 -> 20:00 was taken, and judged 22 hours of the day as the peak at 19:00."""
    import pydantic
    import pytest

    with pytest.raises(pydantic.ValidationError, match=r"peak_end_hour \(20\) must be after"):
        PeakCongestionConfig(peak_start_hour=22, peak_end_hour=20)
    assert PeakCongestionConfig(peak_start_hour=22, peak_end_hour=24).peak_share() == 1 / 6
    with pytest.raises(pydantic.ValidationError, match=r"more than the peak's 2 hours"):
        PeakCongestionConfig(min_hot_hours=3)
