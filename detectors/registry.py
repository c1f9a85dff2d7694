"""The registry: detector names in configs -> detector classes."""

from __future__ import annotations

from detectors.base import Detector
from detectors.burst import BurstDetector, DropDetector
from detectors.composite import (
    PeakCongestionDetector,
    SiteFaultDetector,
)
from detectors.seasonal import SeasonalDetector
from detectors.silence import SilenceDetector
from detectors.threshold import ThresholdDetector
from detectors.trend import EarlyTrendDetector
from detectors.wow import WeekOverWeekDetector

REGISTRY: dict[str, type[Detector]] = {
    cls.name: cls
    for cls in (
        ThresholdDetector,
        BurstDetector,
        DropDetector,
        WeekOverWeekDetector,
        SeasonalDetector,
        EarlyTrendDetector,
        SiteFaultDetector,
        PeakCongestionDetector,
        SilenceDetector,
    )
}
