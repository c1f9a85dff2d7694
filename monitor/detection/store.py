"""Hourly series store: the detectors' memory, one matrix per metric (regions x hours).

Kept as dense numpy matrices so one detector call judges every region at once. Hours are
columns counted from an origin; the store keeps a bounded history and shifts the origin
forward when it fills, so a long-running worker does not grow without end.

Beside each value matrix, a flag per region-hour: the hour was anomalous (a finding, a
ticket still firing), so detectors with a week-old baseline leave it out of it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from detectors.base import SeriesKey, SeriesWindow
from detectors.timeaxis import HOUR_MS, WEEK_HOURS
from monitor.windows.aggregation import HourlyAggregate, metric_columns


class SeriesStore:
    """One regions x hours matrix per metric with a bounded history: the detectors' memory."""

    def __init__(self, metrics: list[str], history_hours: int = 24 * 7 * 9) -> None:
        self.metrics = list(metrics)
        self.history_hours = history_hours
        self.regions: list[str] = []
        self.region_index: dict[str, int] = {}
        # per metric, the keys of every region in order (regions are only ever appended)
        self._keys: dict[str, tuple[SeriesKey, ...]] = {}
        self.origin: int | None = None  # epoch ms of column 0
        # room for a week of new hours before the oldest are dropped (a shift copies the
        # matrices once a week; a larger headroom costs memory on every series)
        self._headroom = WEEK_HOURS
        self._capacity = history_hours + self._headroom
        self._rows = 64
        self.data: dict[str, np.ndarray] = {
            m: np.full((self._rows, self._capacity), np.nan) for m in self.metrics
        }
        self.flags: dict[str, np.ndarray] = {
            m: np.zeros((self._rows, self._capacity), dtype=bool) for m in self.metrics
        }

    def add_metrics(self, metrics: list[str]) -> list[str]:
        """Start keeping more metrics (a reloaded config watches them); returns the new ones."""
        new = [m for m in metrics if m not in self.data]
        for m in new:
            self.metrics.append(m)
            self.data[m] = np.full((self._rows, self._capacity), np.nan)
            self.flags[m] = np.zeros((self._rows, self._capacity), dtype=bool)
        return new

    def _row(self, region: str) -> int:
        row = self.region_index.get(region)
        if row is not None:
            return row
        row = len(self.regions)
        self.regions.append(region)
        self.region_index[region] = row
        if row >= self._rows:
            self._reserve(row + 1)
        return row

    def hold(self, regions: Iterable[str]) -> None:
        """Rows for every region of a batch about to be written, with one copy of the
        matrices instead of one per doubling (a catch-up's first hours bring all its
        regions at once: 1,000 regions by doublings took 0.6 s, held at once 0.06 s)."""
        self._reserve(len(self.regions) + len(set(regions) - self.region_index.keys()))

    def _reserve(self, rows: int) -> None:
        """Room for ``rows`` regions, at least double the present (a copy of every matrix:
        done once for a batch's new regions, not once per doubling)."""
        if rows <= self._rows:
            return
        rows = max(rows, 2 * self._rows)
        grow = rows - self._rows
        for m, matrix in self.data.items():
            self.data[m] = np.vstack([matrix, np.full((grow, self._capacity), np.nan)])
        for m, flags in self.flags.items():
            self.flags[m] = np.vstack([flags, np.zeros((grow, self._capacity), dtype=bool)])
        self._rows = rows

    def _column(self, hour: int) -> int | None:
        if self.origin is None:
            self.origin = hour - (self.history_hours - 1) * HOUR_MS
        col = (hour - self.origin) // HOUR_MS
        if col < 0:
            return None  # older than the kept history: nothing left to judge with it
        if col >= self._capacity:
            shift = col - self._capacity + 1 + self._headroom
            for matrix in self.data.values():
                matrix[:, :-shift] = matrix[:, shift:]
                matrix[:, -shift:] = np.nan
            for flags in self.flags.values():
                flags[:, :-shift] = flags[:, shift:]
                flags[:, -shift:] = False
            self.origin += shift * HOUR_MS
            col -= shift
        return col

    def update(self, aggregate: HourlyAggregate) -> None:
        """Write (or overwrite, for a correction) one region-hour's metric values."""
        self.update_many((aggregate,))

    def update_many(self, aggregates: Sequence[HourlyAggregate]) -> None:
        """``update`` for a batch: one write per metric instead of one per metric and
        region-hour (a catch-up applies thousands at a time), with the same outcome: a
        later aggregate of a region-hour (a correction) wins, and the history shifts where
        it would one by one."""
        self.hold(a.region for a in aggregates)
        cells: dict[tuple[int, int], HourlyAggregate] = {}
        for a in aggregates:
            if self.origin is not None and (a.hour - self.origin) // HOUR_MS >= self._capacity:
                self._write(cells)  # before the shift moves the columns
                cells = {}
            row, col = self._row(a.region), self._column(a.hour)
            if col is not None:
                cells[row, col] = a
        self._write(cells)

    def _write(self, cells: dict[tuple[int, int], HourlyAggregate]) -> None:
        if not cells:
            return
        rows = np.fromiter((row for row, _col in cells), dtype=np.int64, count=len(cells))
        cols = np.fromiter((col for _row, col in cells), dtype=np.int64, count=len(cells))
        columns = metric_columns(list(cells.values()), self.metrics)
        for m in self.metrics:
            self.data[m][rows, cols] = columns[m]

    def write_block(
        self, regions: list[str], first_hour: int, values: dict[str, np.ndarray]
    ) -> None:
        """Write many region-hours at once: ``values[metric][i, j]`` is region i at hour j.

        What a replay of hourly data uses instead of one ``update`` per aggregate; metrics
        the block lacks are unknown (NaN) for its hours.
        """
        hours = next(iter(values.values())).shape[1] if values else 0
        if not hours or not regions:
            return
        if hours > self._headroom:
            raise ValueError(f"a block holds at most {self._headroom} hours, got {hours}")
        self.hold(regions)
        rows = np.fromiter((self._row(r) for r in regions), dtype=np.int64, count=len(regions))
        last = self._column(first_hour + (hours - 1) * HOUR_MS)
        if last is None or last - hours + 1 < 0:
            raise ValueError("the block is older than the kept history")
        first = last - hours + 1
        for m in self.metrics:
            block = values.get(m)
            self.data[m][rows, first : last + 1] = np.nan if block is None else block

    def window(
        self, metric: str, end_hour: int, hours: int, regions: list[str] | None = None
    ) -> SeriesWindow:
        """The last ``hours`` columns ending at ``end_hour``, NaN where nothing is known."""
        regions = self._others(regions)
        out = self._slice(self.data[metric], np.nan, end_hour, hours, regions)
        return SeriesWindow(keys=self._keys_of(metric, regions), values=out, end_hour=end_hour)

    def _others(self, regions: list[str] | None) -> list[str] | None:
        """None for every region in the store's order (a tick's usual ask): its windows
        are views of the matrices and its keys are made once; else the regions."""
        return None if regions is None or regions == self.regions else regions

    def _keys_of(self, metric: str, regions: list[str] | None) -> tuple[SeriesKey, ...]:
        """A window's series keys; those of every region in the store's order are made
        once per metric and region count (a tick asks for them ~25 times)."""
        if regions is not None:
            return tuple(SeriesKey(region, metric) for region in regions)
        keys = self._keys.get(metric)
        if keys is None or len(keys) != len(self.regions):
            keys = self._keys[metric] = tuple(SeriesKey(r, metric) for r in self.regions)
        return keys

    def flagged(
        self, metric: str, end_hour: int, hours: int, regions: list[str] | None = None
    ) -> np.ndarray:
        """The same columns as ``window``: which hours were flagged anomalous."""
        return self._slice(self.flags[metric], False, end_hour, hours, self._others(regions))

    def flag(self, region: str, metric: str, hour: int) -> None:
        """Mark one region-hour anomalous (unknown series and hours out of the kept history
        are ignored: nothing would read the flag)."""
        row = self.region_index.get(region)
        flags = self.flags.get(metric)
        if row is None or flags is None or self.origin is None:
            return
        col = (hour - self.origin) // HOUR_MS
        if 0 <= col < self._capacity:
            flags[row, col] = True

    def _slice(
        self,
        matrix: np.ndarray,
        fill: float | bool,
        end_hour: int,
        hours: int,
        regions: list[str] | None,
    ) -> np.ndarray:
        names = self.regions if regions is None else regions
        if self.origin is not None and names:
            end_col = (end_hour - self.origin) // HOUR_MS
            start_col = end_col - hours + 1
            lo, hi = max(start_col, 0), min(end_col + 1, self._capacity)
            if hi > lo:
                rows = [self.region_index.get(name, -1) for name in names]
                index = np.asarray(rows)
                known = index >= 0
                block = (
                    matrix[index[known], lo:hi]
                    if regions is not None
                    else matrix[: len(names), lo:hi]
                )
                if lo == start_col and hi == end_col + 1 and known.all():
                    # the usual case, every column stored: no fill first, and for the
                    # store's rows in order no copy (a tick reads ~25 windows of every
                    # region's 8 weeks); read-only, so no caller can change the store
                    if regions is None:
                        block.flags.writeable = False
                    return block
                out = np.full((len(names), hours), fill, dtype=matrix.dtype)
                out[known, lo - start_col : hi - start_col] = block
                return out
        return np.full((len(names), hours), fill, dtype=matrix.dtype)

    def value_at(self, region: str, metric: str, hour: int) -> float | None:
        """One series' value at one hour; None when the store does not hold it (a region,
        metric or hour it has not seen, or one no longer kept)."""
        row = self.region_index.get(region)
        matrix = self.data.get(metric)
        if row is None or matrix is None or self.origin is None:
            return None
        col = (hour - self.origin) // HOUR_MS
        if not 0 <= col < self._capacity:
            return None
        value = float(matrix[row, col])
        return None if np.isnan(value) else value

    def values(self, region: str, metric: str, start_hour: int, end_hour: int) -> np.ndarray:
        """One series between two hours (inclusive), for reports and plots."""
        hours = (end_hour - start_hour) // HOUR_MS + 1
        window = self.window(metric, end_hour, hours)
        row = self.region_index.get(region)
        return window.values[row] if row is not None else np.full(hours, np.nan)
