"""Hourly series in columns: months of region-hours for a backtest, without the raw events.

A backtest over a year does not need to re-aggregate a year of raw events: the hourly
aggregates are the durable record (the ``hourly`` topic, or an operator's warehouse). This
is their columnar form, one matrix per metric (regions x hours), saved as a NumPy ``.npz``
file: ``regions`` (strings), ``first_hour`` (epoch ms) and one array per metric named
``metric:<name>``. A year of 1,000 regions and 9 metrics is ~630 MB as float64, so it is
kept as float32 on disk (counts stay exact up to 16 million).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from detectors.timeaxis import HOUR_MS
from monitor.windows.aggregation import HourlyAggregate


@dataclass
class HourlySeries:
    """Hourly aggregates in columns (regions x hours per metric), as a backtest reads them."""

    regions: list[str]
    first_hour: int  # epoch ms of column 0
    values: dict[str, np.ndarray]  # metric -> [regions, hours]

    def __post_init__(self) -> None:
        if self.first_hour % HOUR_MS:
            raise ValueError(f"first_hour {self.first_hour} is not the start of an hour")
        shapes = {m: v.shape for m, v in self.values.items()}
        if any(shape != (len(self.regions), self.hours) for shape in shapes.values()):
            raise ValueError(
                f"every metric needs {len(self.regions)} x {self.hours} values, got {shapes}"
            )

    @property
    def hours(self) -> int:
        return next(iter(self.values.values())).shape[1] if self.values else 0

    @property
    def last_hour(self) -> int:
        return self.first_hour + (self.hours - 1) * HOUR_MS

    def blocks(self, hours: int) -> Iterator[HourlySeries]:
        """Consecutive slices of at most ``hours`` hours (views, not copies)."""
        for start in range(0, self.hours, hours):
            yield HourlySeries(
                self.regions,
                self.first_hour + start * HOUR_MS,
                {m: v[:, start : start + hours] for m, v in self.values.items()},
            )

    def save(self, path: Path) -> None:
        arrays = {f"metric:{m}": v.astype(np.float32) for m, v in self.values.items()}
        np.savez(
            path, regions=np.asarray(self.regions), first_hour=np.int64(self.first_hour), **arrays
        )

    @classmethod
    def load(cls, path: Path, metrics: Iterable[str] | None = None) -> HourlySeries:
        """Read a saved file; with ``metrics``, only those (the others stay on disk)."""
        wanted = set(metrics) if metrics is not None else None
        with np.load(path, allow_pickle=False) as data:
            values = {
                name.removeprefix("metric:"): data[name].astype(np.float64)
                for name in data.files
                if name.startswith("metric:")
                and (wanted is None or name.removeprefix("metric:") in wanted)
            }
            return cls([str(r) for r in data["regions"]], int(data["first_hour"]), values)

    @classmethod
    def from_aggregates(
        cls, aggregates: Iterable[HourlyAggregate], metrics: Iterable[str]
    ) -> HourlySeries:
        """Columns from hourly aggregates (e.g. the ``hourly`` topic); a correction (a
        higher revision) replaces what it corrects."""
        latest: dict[tuple[str, int], HourlyAggregate] = {}
        for agg in aggregates:
            held = latest.get((agg.region, agg.hour))
            if held is None or agg.revision >= held.revision:
                latest[(agg.region, agg.hour)] = agg
        names = list(metrics)
        if not latest:
            return cls([], 0, {m: np.empty((0, 0)) for m in names})
        regions = sorted({region for region, _ in latest})
        first = min(hour for _, hour in latest)
        hours = (max(hour for _, hour in latest) - first) // HOUR_MS + 1
        row = {r: i for i, r in enumerate(regions)}
        values = {m: np.full((len(regions), hours), np.nan) for m in names}
        for (region, hour), agg in latest.items():
            col = (hour - first) // HOUR_MS
            got = agg.metrics()
            for m in names:
                values[m][row[region], col] = got.get(m, np.nan)
        return cls(regions, first, values)
