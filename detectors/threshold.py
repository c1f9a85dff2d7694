"""Static threshold: the simplest rule NOC staff trust, with a persistence requirement.

Requiring N consecutive hours beyond the line keeps one noisy hour from paging anyone.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
from pydantic import Field

from detectors.base import HOUR_MS, DetectorConfig, Finding, SeriesWindow, pct


class ThresholdConfig(DetectorConfig):
    threshold: float
    direction: Literal["above", "below"] = "above"
    min_consecutive_hours: int = Field(default=1, ge=1, le=168)


class ThresholdDetector:
    name: ClassVar[str] = "threshold"
    config_model: ClassVar[type[ThresholdConfig]] = ThresholdConfig

    def __init__(self, config: ThresholdConfig) -> None:
        self.config = config

    def history_hours(self) -> int:
        return self.config.min_consecutive_hours

    def evaluate(self, window: SeriesWindow) -> list[Finding]:
        cfg = self.config
        n = cfg.min_consecutive_hours
        recent = window.values[:, -n:]
        with np.errstate(invalid="ignore"):
            beyond = recent > cfg.threshold if cfg.direction == "above" else recent < cfg.threshold
        firing = beyond.all(axis=1) & (recent.shape[1] == n)
        findings = []
        word = ">" if cfg.direction == "above" else "<"
        for i in np.flatnonzero(firing):
            key = window.keys[i]
            observed = float(recent[i, -1])
            findings.append(Finding(
                detector=self.name, region=key.region, metric=key.metric,
                hour=window.end_hour, observed=observed, baseline=cfg.threshold,
                change_pct=pct(observed, cfg.threshold), p_value=None,
                window_start=window.end_hour - (n - 1) * HOUR_MS,
                window_end=window.end_hour + HOUR_MS,
                explanation=(f"{key.metric} {word} {cfg.threshold:g} for {n} consecutive "
                             f"hour(s); now {observed:.3g}"),
                score=abs(observed - cfg.threshold) / (abs(cfg.threshold) or 1.0),
            ))
        return findings
