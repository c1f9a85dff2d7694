"""Pure detectors over numpy arrays, and the registry that names them for configs."""

from detectors.base import Detector, DetectorConfig, Finding, SeriesKey, SeriesWindow
from detectors.threshold import ThresholdConfig, ThresholdDetector
from detectors.wow import WeekOverWeekConfig, WeekOverWeekDetector

REGISTRY: dict[str, type[ThresholdDetector] | type[WeekOverWeekDetector]] = {
    ThresholdDetector.name: ThresholdDetector,
    WeekOverWeekDetector.name: WeekOverWeekDetector,
}

__all__ = [
    "REGISTRY", "Detector", "DetectorConfig", "Finding", "SeriesKey", "SeriesWindow",
    "ThresholdConfig", "ThresholdDetector", "WeekOverWeekConfig", "WeekOverWeekDetector",
]
