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
