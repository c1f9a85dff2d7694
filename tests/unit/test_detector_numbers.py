"""Numbers in explanations as on-call reads them: "1,412", never "1.41e+03"."""

from __future__ import annotations

import doctest
import re

import numpy as np

import detectors.numbers
from detectors import (
    BurstDetector,
    SeriesKey,
    SeriesWindow,
    ThresholdConfig,
    ThresholdDetector,
    WeekOverWeekDetector,
)
from tests.domain import HOUR

EXPONENT = re.compile(r"\de[+-]\d")
END = 2_000 * HOUR


def window(values: np.ndarray, metric: str = "complaints.total") -> SeriesWindow:
    return SeriesWindow(keys=[SeriesKey("north", metric)], values=values[None, :], end_hour=END)


def test_the_docstring_example_runs():
    result = doctest.testmod(detectors.numbers)
    assert result.attempted > 0 and result.failed == 0


def test_a_threshold_on_thousands_writes_them_whole():
    detector = ThresholdDetector(ThresholdConfig(threshold=1000, min_consecutive_hours=1))
    (finding,) = detector.evaluate(window(np.array([900.0, 1412.0])))
    assert "1,412 > the limit 1,000" in finding.explanation, finding.explanation


def test_a_burst_on_a_large_series_writes_no_exponent():
    # four weeks of a daily rhythm in the tens of thousands an hour, then one hour far out
    rng = np.random.default_rng(3)
    days = np.tile(20_000 + 8_000 * np.sin(np.arange(24) / 24 * 2 * np.pi), 28)
    values = rng.poisson(days).astype(float)
    values[-1] = 90_000
    findings = BurstDetector().evaluate(window(values))
    assert findings, "a burst four times the usual level must fire"
    assert "90,000 this hour" in findings[-1].explanation, findings[-1].explanation
    assert not EXPONENT.search(findings[-1].explanation)


def test_week_over_week_on_large_totals_writes_no_exponent():
    weeks = np.concatenate([np.full(168, 1_000.0), np.full(168, 1_500.0)])
    (finding,) = WeekOverWeekDetector().evaluate(window(weeks))
    assert "252,000 in the last 168h vs 168,000" in finding.explanation, finding.explanation
    assert not EXPONENT.search(finding.explanation.partition("p=")[0])
