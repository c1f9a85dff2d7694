"""The silence detector: a count of what arrives (a KPI's readings, its sites) that falls
far below its usual for hours on end is a finding; a missing file, a series that never
had a feed and an unknown hour are not."""

import numpy as np
import pytest

from detectors import SeriesKey, SeriesWindow
from detectors.base import scan_by_ends
from detectors.silence import SilenceConfig, SilenceDetector
from tests.domain import HOUR

END = 600_000 * HOUR
METRIC = "kpi.packet_loss.readings"


def judge(series, detector=None, ends=1):
    detector = detector or SilenceDetector()
    values = np.atleast_2d(np.asarray(series, dtype=float))
    keys = [SeriesKey(f"r{i}", METRIC) for i in range(len(values))]
    return detector.scan(SeriesWindow(keys, values, END), ends)


def steady(days=7, per_hour=24.0):
    return list(np.full(days * 24, per_hour))


def test_a_feed_that_stops_fires_after_min_hours_naming_its_usual_and_how_long():
    assert judge([*steady(), 0.0]) == []  # one hour: a missing file, perhaps
    (found,) = judge([*steady(), 0.0, 0.0, 0.0])
    assert (found.observed, found.baseline, found.change_pct) == (0.0, 24.0, -100.0)
    assert found.window_start == END - 2 * HOUR and found.window_end == END + HOUR
    assert "0 an hour for 3 h, usually 24" in found.explanation
    assert found.score == 1.0


def test_a_feed_dead_for_days_still_reads_as_dead_until_its_days_are_gone():
    history = steady(days=7)
    for dead in (3 * 24, 6 * 24):
        (found,) = judge(history + [0.0] * dead)
        assert found.baseline == 24.0
        assert found.window_start == END - (dead - 1) * HOUR or dead > 7 * 24
    assert judge(history + [0.0] * (7 * 24 + 2)) == []  # a week of nothing is its usual now


def test_what_never_arrived_and_what_only_dipped_are_no_silence():
    assert judge([0.0] * (8 * 24)) == []  # a region without a feed
    dipped = [*steady(), 14.0, 14.0, 14.0]  # 10 of 24 missing: under min_drop's half
    assert judge(dipped) == []
    assert judge([*steady(), np.nan, 0.0]) == []  # an unknown hour is no evidence


def test_one_site_of_three_going_dark_fires_with_a_small_min_drop():
    sites = SilenceDetector(SilenceConfig(min_hours=3, min_drop=0.2, min_missing=1))
    (found,) = judge([*steady(per_hour=3.0), 2.0, 2.0, 2.0], sites)
    assert (found.observed, found.baseline) == (2.0, 3.0)
    assert judge([*steady(per_hour=3.0), 2.0, 2.0, 2.0]) == []  # the default: half gone


def test_a_few_missing_hours_a_day_do_not_move_the_usual():
    day = [24.0] * 20 + [0.0] * 4  # files missing every night
    (found,) = judge(day * 7 + [0.0, 0.0])
    assert found.baseline == 24.0


def test_a_young_series_is_judged_once_a_day_before_it_holds_half_a_day_of_hours():
    assert judge([np.nan] * (7 * 24 - 11) + [24.0] * 11 + [0.0, 0.0]) == []
    (found,) = judge([np.nan] * (7 * 24 - 12) + [24.0] * 12 + [0.0, 0.0])
    assert found.baseline == 24.0


def schedule_world(seed: int, rows: int, hours: int) -> np.ndarray:
    """Readings on a schedule (a few sites x 12 an hour), with outages of every length,
    a site of several going dark, missing files, unknown hours and young series."""
    rng = np.random.default_rng(seed)
    sites = rng.integers(1, 5, size=(rows, 1))
    values = np.repeat(sites * 12.0, hours, axis=1)
    for i in range(rows):
        for _ in range(rng.integers(0, 4)):
            start = int(rng.integers(0, hours - 1))
            length = int(rng.integers(1, 60))
            values[i, start : start + length] = rng.choice([0.0, 12.0 * (sites[i, 0] - 1)])
    values[rng.random((rows, hours)) < 0.01] = 0.0
    values[rng.random((rows, hours)) < 0.01] = np.nan
    for i in np.flatnonzero(rng.random(rows) < 0.15):
        values[i, : rng.integers(hours // 3, hours - 30)] = np.nan
    return values


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize(
    "config", [SilenceConfig(), SilenceConfig(min_hours=3, min_drop=0.2, days=2)]
)
def test_scan_agrees_with_judging_each_hour_alone(seed, config):
    detector = SilenceDetector(config)
    ends = 120
    hours = detector.history_hours() + ends - 1
    values = schedule_world(seed, rows=40, hours=hours)
    keys = [SeriesKey(f"r{i:02d}", METRIC) for i in range(len(values))]
    window = SeriesWindow(keys, values, END)

    def key(f):
        return (f.hour, f.region, f.observed, f.baseline, f.window_start, f.explanation)

    scanned = sorted(map(key, detector.scan(window, ends)))
    assert scanned == sorted(map(key, scan_by_ends(detector, window, ends)))
    assert len({f[0] for f in scanned}) >= 5, "the world should make it fire at several hours"
