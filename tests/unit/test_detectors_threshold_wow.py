"""The detectors' rules, pinned on hand-made series."""

import numpy as np
import pytest
from pydantic import ValidationError

from detectors import (
    SeriesKey,
    SeriesWindow,
    ThresholdConfig,
    ThresholdDetector,
    WeekOverWeekConfig,
    WeekOverWeekDetector,
)
from detectors.wow import wow_test
from tests.domain import HOUR

END = 1_000 * HOUR


def weekly(prev_total: float, cur_total: float, hours: int = 168) -> np.ndarray:
    """Two weeks of hourly counts with the given weekly totals, spread evenly."""
    return np.concatenate([np.full(hours, prev_total / hours), np.full(hours, cur_total / hours)])


def window(*rows: np.ndarray, metric: str = "complaints.broadband_lag") -> SeriesWindow:
    keys = [SeriesKey(f"r{i}", metric) for i in range(len(rows))]
    return SeriesWindow(keys=keys, values=np.vstack(rows), end_hour=END)


WOW = WeekOverWeekDetector(WeekOverWeekConfig(rise=0.20, min_volume=50, alpha=1e-3))


def test_wow_19_percent_does_not_fire_even_with_volume():
    assert WOW.evaluate(window(weekly(1000, 1190))) == []


def test_wow_21_percent_fires_with_volume_and_explains_itself():
    (finding,) = WOW.evaluate(window(weekly(1000, 1210)))
    assert finding.observed == pytest.approx(1210)
    assert finding.baseline == pytest.approx(1000)
    assert finding.change_pct == pytest.approx(21.0)
    assert finding.p_value is not None and finding.p_value < 1e-3
    assert finding.window_end - finding.window_start == 168 * HOUR
    assert finding.window_end == END + HOUR
    assert "+21.0%" in finding.explanation and "p=" in finding.explanation


def test_wow_low_volume_doubling_does_not_fire():
    assert WOW.evaluate(window(weekly(20, 40))) == []


def test_wow_two_to_three_is_not_an_alarm_even_without_volume_floor():
    no_floor = WeekOverWeekDetector(WeekOverWeekConfig(min_volume=0, alpha=0.05))
    assert no_floor.evaluate(window(weekly(2, 3))) == []


def test_wow_significance_gates_a_large_rise_at_moderate_volume():
    # 50 -> 70 is +40% and over the volume floor, but not significant at alpha=1e-3
    assert WOW.evaluate(window(weekly(50, 70))) == []
    assert wow_test(np.array([70.0]), np.array([50.0]))[0] > 1e-3


def test_wow_is_vectorised_and_judges_each_series_alone():
    rows = [weekly(1000, 1190), weekly(1000, 1300), weekly(20, 40), weekly(500, 800)]
    findings = WOW.evaluate(window(*rows))
    assert sorted(f.region for f in findings) == ["r1", "r3"]


def test_wow_needs_three_quarters_of_each_week():
    values = weekly(1000, 1500)
    values[:10] = np.nan  # the stream started ten hours late: the baseline is scaled
    assert len(WOW.evaluate(window(values))) == 1
    values[:60] = np.nan  # most of a day and a half missing from the first week
    assert WOW.evaluate(window(values)) == []
    assert WOW.evaluate(SeriesWindow([SeriesKey("r", "m")], values[None, 100:], END)) == []


def test_wow_config_rejects_out_of_range_parameters():
    with pytest.raises(ValidationError):
        WeekOverWeekConfig(rise=-0.1)
    with pytest.raises(ValidationError):
        WeekOverWeekConfig(alpha=1.5)
    with pytest.raises(ValidationError):
        WeekOverWeekConfig(ris=0.2)  # a typo is an error, not a default


THRESHOLD = ThresholdDetector(ThresholdConfig(threshold=90, min_consecutive_hours=2))


def test_threshold_needs_consecutive_hours():
    one_hour = np.array([50, 60, 95.0])
    two_hours = np.array([50, 95, 96.0])
    interrupted = np.array([95, 60, 96.0])
    findings = THRESHOLD.evaluate(
        window(one_hour, two_hours, interrupted, metric="kpi.bandwidth_utilisation.max")
    )
    assert [f.region for f in findings] == ["r1"]
    (f,) = findings
    assert (f.observed, f.limit, f.baseline) == (96, 90, 50)  # the normal level apart
    assert "96 > the limit 90 for 2 consecutive hour(s), normally ~50" in f.explanation
    assert f.window_start == END - HOUR and f.window_end == END + HOUR
    assert "2 consecutive" in f.explanation


def test_threshold_equal_is_not_beyond_and_nan_never_fires():
    findings = THRESHOLD.evaluate(window(np.array([90.0, 90.0]), np.array([np.nan, 99.0])))
    assert findings == []


def test_threshold_below_direction():
    low = ThresholdDetector(ThresholdConfig(threshold=10, direction="below"))
    assert [f.region for f in low.evaluate(window(np.array([5.0]), np.array([15.0])))] == ["r0"]


def test_hysteresis_says_the_value_is_back_under_the_limit_but_not_cleared():
    from detectors import SeriesKey, SeriesWindow, ThresholdDetector

    values = np.array([[0.1] * 10 + [0.9, 0.95, 0.9, 0.52]])
    detector = ThresholdDetector(
        ThresholdDetector.config_model(threshold=0.8, clear_at=0.4, min_consecutive_hours=3)
    )
    window = SeriesWindow([SeriesKey("r1", "complaint_rate.billing_dispute")], values, 0)
    [f] = detector.evaluate(window)
    assert f.explanation == (
        "complaint_rate.billing_dispute 0.52 crossed the limit 0.8 and has not yet fallen "
        "to 0.4, where it clears, normally ~0.1"
    )
