"""The detector base: one interface for the registry, the tick and config validation."""

from __future__ import annotations

import doctest

import numpy as np
import pytest

import detectors.base
from detectors.base import Detector, DetectorConfig, SeriesKey, SeriesWindow
from detectors.registry import REGISTRY
from monitor.config.checks import ConfigError
from monitor.config.load import parse_config


def test_the_docstring_example_runs():
    result = doctest.testmod(detectors.base)
    assert result.attempted > 0 and result.failed == 0


def test_every_registered_detector_is_a_detector_with_defaults():
    for name, cls in REGISTRY.items():
        assert issubclass(cls, Detector) and cls.name == name
        if name == "threshold":
            continue  # the one detector without a default line
        detector = cls()
        assert detector.history_hours() >= 1
        assert isinstance(detector.context_metrics(), list)


def test_a_detector_without_scan_or_evaluate_is_refused():
    with pytest.raises(TypeError, match="must implement scan or evaluate"):

        class Mute(Detector):
            name = "mute"
            config_model = DetectorConfig

            def history_hours(self) -> int:
                return 1


def test_evaluate_alone_gives_scan_by_its_definition():
    class LastAboveOne(Detector):
        name = "last_above_one"
        config_model = DetectorConfig

        def history_hours(self) -> int:
            return 1

        def evaluate(self, window: SeriesWindow) -> list:
            return [window.end_hour] if window.values[0, -1] > 1 else []

    window = SeriesWindow([SeriesKey("r", "m")], np.array([[0.0, 2.0, 0.0, 3.0]]), end_hour=0)
    assert LastAboveOne().scan(window, 4) == [-2 * 3_600_000, 0]


def test_config_checks_ask_the_detector_which_other_metrics_it_reads():
    text = (
        "detectors:\n"
        "  - id: sf\n"
        "    detector: site_fault\n"
        "    metrics: [complaints.broadband_lag]\n"
        "    params:\n"
        "      kpi_metric: kpi.jitter.mean\n"
    )
    with pytest.raises(ConfigError) as info:
        parse_config(text, "c.yaml")
    assert info.value.messages == [
        "c.yaml:6: detectors[0].params.kpi_metric: unknown metric 'kpi.jitter.mean'"
    ]


@pytest.mark.parametrize("seed", range(5))
def test_rolling_sums_are_the_sums_of_their_columns(seed):
    """Each sum is the NaN-as-zero sum of the ``w`` columns ending ``lag`` before one of
    the last ``ends`` columns, however little of the window the sums read."""
    from detectors.base import rolling_sums

    rng = np.random.default_rng(seed)
    for _ in range(200):
        n = int(rng.integers(2, 120))
        values = rng.normal(size=(3, n)) * 10
        values[rng.random(values.shape) < 0.2] = np.nan
        w, ends = int(rng.integers(1, n)), int(rng.integers(1, n))
        lag = int(rng.integers(0, n))
        if n - ends + 1 - lag - w < 0:
            continue  # the window is shorter than the sums read (callers pad it)
        got = rolling_sums(values, w, ends, lag)
        for e in range(ends):
            stop = n - ends + 1 + e - lag
            want = np.nansum(values[:, stop - w : stop], axis=1)
            np.testing.assert_allclose(got[:, e], want, rtol=1e-9, atol=1e-9)
