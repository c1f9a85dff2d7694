"""Pure detectors over numpy arrays, and the registry that names them for configs.

Every detector subclasses ``detectors.base.Detector``: a ``config_model`` (pydantic),
``history_hours()``, ``scan``/``evaluate`` and, for two-signal detectors,
``context_metrics()``. Same interface, so specs can swap one for another.
"""

from detectors.base import Detector, DetectorConfig, Finding, SeriesKey, SeriesWindow
from detectors.composite import (
    PeakCongestionConfig,
    PeakCongestionDetector,
    SiteFaultConfig,
    SiteFaultDetector,
)
from detectors.seasonal import SeasonalConfig, SeasonalDetector
from detectors.threshold import ThresholdConfig, ThresholdDetector
from detectors.trend import EarlyTrendConfig, EarlyTrendDetector
from detectors.wow import WeekOverWeekConfig, WeekOverWeekDetector

REGISTRY: dict[str, type[Detector]] = {
    cls.name: cls
    for cls in (
        ThresholdDetector,
        WeekOverWeekDetector,
        SeasonalDetector,
        EarlyTrendDetector,
        SiteFaultDetector,
        PeakCongestionDetector,
    )
}

__all__ = [
    "REGISTRY",
    "Detector",
    "DetectorConfig",
    "EarlyTrendConfig",
    "EarlyTrendDetector",
    "Finding",
    "PeakCongestionConfig",
    "PeakCongestionDetector",
    "SeasonalConfig",
    "SeasonalDetector",
    "SeriesKey",
    "SeriesWindow",
    "SiteFaultConfig",
    "SiteFaultDetector",
    "ThresholdConfig",
    "ThresholdDetector",
    "WeekOverWeekConfig",
    "WeekOverWeekDetector",
]
