"""A scan over many hours finds exactly what judging each hour on its own window finds.

The backtest judges a week of hours per detector call; a live worker judges one. These
tests hold the vectorised scans to the reference definition (``scan_by_ends``: one
``evaluate`` per hour) on random series built to make every detector fire somewhere.
"""

import numpy as np
import pytest

from detectors import (
    BurstDetector,
    DropDetector,
    EarlyTrendConfig,
    EarlyTrendDetector,
    SeriesKey,
    SeriesWindow,
    SiteFaultConfig,
    SiteFaultDetector,
    ThresholdConfig,
    ThresholdDetector,
    WeekOverWeekConfig,
    WeekOverWeekDetector,
)
from detectors.base import scan_by_ends
from monitor.detection import tick
from tests.domain import HOUR

END = 600_000 * HOUR
ENDS = 120


def world(seed: int, rows: int, hours: int) -> tuple[np.ndarray, np.ndarray]:
    """Counts with daily rhythm, some rows ramping up, some young (NaN at the start),
    some with gaps; and a KPI that degrades on the ramping rows."""
    rng = np.random.default_rng(seed)
    t = np.arange(hours)
    base = rng.uniform(0.3, 6.0, size=(rows, 1)) * (1 + 0.5 * np.sin(2 * np.pi * t / 24))
    ramp = np.zeros((rows, hours))
    ramping = rng.random(rows) < 0.4
    starts = rng.integers(hours // 2, hours - 24, size=rows)
    for i in np.flatnonzero(ramping):
        ramp[i, starts[i] :] = np.linspace(0, rng.uniform(0.5, 2.0), hours - starts[i])
    counts = rng.poisson(base * (1 + ramp)).astype(float)
    young = rng.random(rows) < 0.15
    for i in np.flatnonzero(young):
        counts[i, : rng.integers(hours // 3, hours - 30)] = np.nan
    gaps = rng.random((rows, hours)) < 0.01
    counts[gaps] = np.nan
    kpi = rng.uniform(0.2, 0.6, size=(rows, hours)) * (1 + 3 * ramp)
    kpi[rng.random((rows, hours)) < 0.05] = np.nan
    return counts, kpi


def key(f):
    def num(x):
        return "nan" if np.isnan(x) else round(x, 6)

    return (
        f.hour,
        f.region,
        f.metric,
        num(f.observed),
        num(f.baseline),
        num(f.score),
        f.window_start,
        f.window_end,
    )  # texts may round a last digit differently


DETECTORS = {
    "wow": WeekOverWeekDetector(
        WeekOverWeekConfig(rise=0.2, min_volume=60, alpha=1e-4, min_coverage=0.9)
    ),
    "trend": EarlyTrendDetector(EarlyTrendConfig(threshold=8.0, min_volume=10)),
    "site_fault": SiteFaultDetector(
        SiteFaultConfig(window_hours=48, min_volume=20, kpi_rise=0.5, kpi_min_delta=0.1)
    ),
    "threshold": ThresholdDetector(ThresholdConfig(threshold=9, min_consecutive_hours=3)),
    "hysteresis": ThresholdDetector(
        ThresholdConfig(threshold=9, clear_at=5, min_consecutive_hours=2, lookback_hours=48)
    ),
    "burst": BurstDetector(BurstDetector.config_model(k=3, min_change=0.3, poisson_alpha=0.01)),
    "drop": DropDetector(DropDetector.config_model(k=1, min_change=0.5, poisson_alpha=0.05)),
}


@pytest.mark.parametrize("name", sorted(DETECTORS))
@pytest.mark.parametrize("seed", [1, 2])
def test_scan_agrees_with_judging_each_hour_alone(name, seed):
    detector = DETECTORS[name]
    hours = detector.history_hours() + ENDS - 1
    counts, kpi = world(seed, rows=60, hours=hours + 40)
    counts, kpi = counts[:, -hours:], kpi[:, -hours:]
    keys = [SeriesKey(f"r{i:02d}", "complaints.broadband_lag") for i in range(len(counts))]
    window = SeriesWindow(keys, counts, END, {"kpi.packet_loss.mean": kpi})
    scanned = sorted(map(key, detector.scan(window, ENDS)))
    reference = sorted(map(key, scan_by_ends(detector, window, ENDS)))
    assert scanned == reference
    assert len({f[0] for f in scanned}) >= 5, "the world should make it fire at several hours"


@pytest.mark.parametrize("name", sorted(DETECTORS))
def test_the_tick_splitting_series_into_blocks_changes_no_finding(name, monkeypatch):
    """The tick scans a year's replay in blocks of series (to stay within the caches):
    detectors judge each series on its own, so the blocks find what one call finds."""
    detector = DETECTORS[name]
    hours = detector.history_hours() + ENDS - 1
    counts, kpi = world(5, rows=60, hours=hours)
    keys = [SeriesKey(f"r{i:02d}", "complaints.broadband_lag") for i in range(len(counts))]
    window = SeriesWindow(keys, counts, END, {"kpi.packet_loss.mean": kpi})
    whole = sorted(map(key, detector.scan(window, ENDS)))
    monkeypatch.setattr(tick, "SCAN_CELLS", 7 * ENDS)
    blocks = tick._row_blocks(window, ENDS)
    assert [len(b.keys) for b in blocks] == [7] * 8 + [4]
    assert sorted(key(f) for b in blocks for f in detector.scan(b, ENDS)) == whole
    assert whole


def test_scan_of_one_hour_is_evaluate():
    detector = DETECTORS["trend"]
    counts, _ = world(3, rows=40, hours=detector.history_hours())
    keys = [SeriesKey(f"r{i}", "m") for i in range(len(counts))]
    window = SeriesWindow(keys, counts, END)
    assert list(map(key, detector.evaluate(window))) == list(map(key, detector.scan(window, 1)))


def test_a_short_window_is_padded_not_refused():
    detector = DETECTORS["wow"]
    counts, _ = world(4, rows=5, hours=100)
    keys = [SeriesKey(f"r{i}", "m") for i in range(5)]
    assert detector.scan(SeriesWindow(keys, counts, END), 10) == []
