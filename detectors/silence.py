"""Silence: a count of what arrives fell far below its usual, hours on end.

Why a detector of its own: when a site goes dark, or its OSS export breaks, its readings
stop, and every statistic of them (mean, max, p95) becomes unknown: no evidence at all for
the detectors that watch them. What does show it is the count of what arrived (a KPI's
readings in the hour, the sites that sent any). Those counts follow a schedule, not
chance: every site reports every few minutes. ``drop`` floors its spread with Poisson
noise, right for complaints and wrong here (24 readings an hour falling to none is within
its noise; for a schedule it is certain), and it judges nothing of a series that never
varied. A region that never had a feed has no usual, and never fires.

The usual is the largest of the daily medians over the ``days`` days before the hours
judged: a day's median passes over a few missing files, and the largest of the days
passes over an outage that began days ago, so a feed dead for three days still reads as
dead (after ``days`` days of it there is no usual left, and the finding stops).

>>> import numpy as np
>>> from detectors import SeriesKey, SeriesWindow
>>> from detectors.silence import SilenceDetector
>>> readings = np.r_[np.full(48, 24.0), 0.0, 0.0]  # two days of 24 an hour, then none
>>> window = SeriesWindow([SeriesKey("r1", "kpi.packet_loss.readings")],
...                       readings[None, :], end_hour=0)
>>> [(f.observed, f.baseline) for f in SilenceDetector().evaluate(window)]
[(0.0, 24.0)]
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
from pydantic import Field
from scipy.ndimage import maximum_filter1d

from detectors.base import (
    Detector,
    DetectorConfig,
    Finding,
    SeriesWindow,
    end_hours,
    finding,
    last_columns,
)
from detectors.numbers import number

DAY = 24
MIN_KNOWN_PER_DAY = 12  # hours a day's median needs


class SilenceConfig(DetectorConfig):
    # hours in a row that must each be short: one missing file is not a dead feed
    min_hours: int = Field(default=2, ge=1, le=72)
    # short: at least this share of the usual missing, and at least ``min_missing`` of it
    min_drop: float = Field(default=0.5, gt=0.0, le=1.0)
    min_missing: float = Field(default=1.0, ge=0.0)
    days: int = Field(default=7, ge=1, le=28)


def short_of(usual: np.ndarray | float, cfg: SilenceConfig) -> np.ndarray | float:
    """The most a short hour holds against ``usual``: the line at or below which it is."""
    return usual - np.maximum(cfg.min_missing, cfg.min_drop * usual)


def trailing_max(values: np.ndarray, width: int) -> np.ndarray:
    """Per column, the largest value of the ``width`` columns ending there (unknown:
    -inf); one pass per row whatever the width, so a year's replay pays nothing for it."""
    filled = np.where(np.isnan(values), -np.inf, values)
    return maximum_filter1d(
        filled, size=width, axis=1, origin=(width - 1) // 2, mode="constant", cval=-np.inf
    )


def usual_level(before: np.ndarray, days: int) -> float:
    """The largest of the daily medians of ``before`` (its last ``days`` x 24 hours, each
    day with at least ``MIN_KNOWN_PER_DAY`` known hours); NaN without such a day."""
    blocks = before[-days * DAY :].reshape(-1, DAY)
    known = np.isfinite(blocks).sum(axis=1) >= MIN_KNOWN_PER_DAY
    if not known.any():
        return float("nan")
    return float(max(np.nanmedian(block) for block in blocks[known]))


class SilenceDetector(Detector):
    name: ClassVar[str] = "silence"
    config_model: ClassVar[type[SilenceConfig]] = SilenceConfig
    config: SilenceConfig

    def history_hours(self) -> int:
        return self.config.min_hours + self.config.days * DAY

    def min_known_hours(self) -> int:
        return self.config.min_hours + MIN_KNOWN_PER_DAY

    def scan(self, window: SeriesWindow, ends: int) -> list[Finding]:
        cfg = self.config
        n, base = cfg.min_hours, cfg.days * DAY
        length = self.history_hours() + ends - 1
        values = last_columns(window.values, length)
        first = length - ends  # column of the first judged end
        # a necessary condition, for every row and end at once: each of the last n hours
        # known and short even against the largest value of the days before them (the
        # usual is never above it); the exact usual is worked out for those rows alone
        peak_before = trailing_max(values, base)[:, first - n : length - n]
        unknown_in_run = trailing_max(np.isnan(values).astype(float), n)[:, first:] > 0
        run_top = trailing_max(values, n)[:, first:]
        with np.errstate(invalid="ignore"):
            candidate = (
                ~unknown_in_run
                & (peak_before > 0)
                & (run_top <= short_of(np.maximum(peak_before, 0.0), cfg))
            )
        hours = end_hours(window, ends)
        findings = []
        for row, e in zip(*(idx.tolist() for idx in np.nonzero(candidate)), strict=True):
            end = first + e
            start = end - n + 1
            usual = usual_level(values[row, start - base : start], cfg.days)
            if not usual > 0:
                continue
            line = short_of(usual, cfg)
            if run_top[row, e] > line:
                continue
            while start > end - base and values[row, start - 1] <= line:
                start -= 1  # how long it has been silent (an unknown hour ends the walk)
            key, span, observed = window.keys[row], end - start + 1, float(values[row, end])
            explanation = (
                f"{key.metric} {number(observed)} an hour for {span} h, usually "
                f"{number(usual)}: what used to arrive stopped (a site down, or its feed broken)"
            )
            findings.append(
                finding(
                    self.name,
                    key,
                    int(hours[e]),
                    span,
                    observed,
                    usual,
                    explanation,
                    score=(usual - observed) / usual,
                )
            )
        return findings
