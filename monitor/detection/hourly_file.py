"""Hourly series in columns: months of region-hours for a backtest, without the raw events.

A backtest over a year does not need to re-aggregate a year of raw events: the hourly
aggregates are the durable record (the ``hourly`` topic, or an operator's warehouse). This
is their columnar form, one matrix per metric (regions x hours), saved as a NumPy ``.npz``
file: ``regions`` (strings), ``first_hour`` (epoch ms) and one array per metric named
``metric:<name>`` (docs/bring-your-data.md describes it for people writing one). A year
of 1,000 regions and 9 metrics is ~630 MB as float64, so it is kept as float32 on disk
(counts stay exact up to 16 million).
"""

from __future__ import annotations

import difflib
import math
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from detectors.timeaxis import HOUR_MS, to_iso
from monitor.events.file_magic import file_head, looks_like
from monitor.windows.aggregation import HourlyAggregate, metric_columns

LAYOUT = "see 'The hourly file' in docs/bring-your-data.md"


# values (region-hours x metrics) one hourly file may hold: ~2 GB as the float64 a
# backtest judges, twice a year of 1,000 regions x the default config's 15 metrics
# (bench_backtest). Two rows of one region, dated 2026 and (by a slip) 9999, made a
# 280 MB file.
MAX_VALUES = 2**28


class HourlyFileError(ValueError):
    """A file that cannot be read as hourly series: what is wrong, in one line."""


class TooManyValues(HourlyFileError):
    """Series that would hold more than ``MAX_VALUES``."""


def check_size(regions: int, hours: int, metrics: int, span: str = "") -> None:
    """Raise ``TooManyValues`` before series that large are allocated; ``span`` says
    where their hours came from."""
    values = regions * hours * metrics
    if values > MAX_VALUES:
        raise TooManyValues(
            f"{span or 'the series'} span {hours:,} hours ({hours / (365.25 * 24):,.1f} "
            f"years) x {regions:,} regions x {metrics:,} metric{'' if metrics == 1 else 's'} "
            f"= {values:,} values, more than an hourly file holds ({MAX_VALUES:,}): a "
            "mistyped year?"
        )


def _shape(path: Path, data: Any, member: str) -> tuple[int, ...]:
    """A member's shape from its header alone (an ``.npz`` is a zip of ``.npy`` files)."""
    try:
        with data.zip.open(f"{member}.npy") as fh:
            version = np.lib.format.read_magic(fh)
            read = (
                np.lib.format.read_array_header_1_0
                if version == (1, 0)
                else np.lib.format.read_array_header_2_0
            )
            shape, _fortran, _dtype = read(fh)
    except (KeyError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise HourlyFileError(f"{path}: {member}: {exc}; {LAYOUT}") from exc
    return tuple(shape)


def _did_you_mean(name: str, known: set[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _compact(names: Iterable[str]) -> str:
    """``a.{x,y}, b.z``: a long list of dotted names, short enough to read in one go."""
    groups: dict[str, list[str]] = {}
    for name in sorted(names):
        head, _, tail = name.rpartition(".")
        groups.setdefault(head, []).append(tail)
    return ", ".join(
        f"{head}.{tails[0]}" if len(tails) == 1 else f"{head}.{{{','.join(tails)}}}"
        for head, tails in groups.items()
    )


def _when(epoch_ms: int) -> str:
    try:
        return f" ({to_iso(epoch_ms)})"
    except (OverflowError, OSError, ValueError):
        return " (out of any calendar)"


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

    def merged(self, other: HourlySeries) -> HourlySeries:
        """Both files' regions, hours and metrics in one (what importing a KPI next to the
        complaints makes); where both know a metric's value, ``other``'s wins."""
        if not other.regions or not other.values:
            return self
        if not self.regions or not self.values:
            return other
        regions = sorted(set(self.regions) | set(other.regions))
        first = min(self.first_hour, other.first_hour)
        hours = (max(self.last_hour, other.last_hour) - first) // HOUR_MS + 1
        metrics = len(set(self.values) | set(other.values))
        check_size(len(regions), hours, metrics, "the two files together")
        row = {r: i for i, r in enumerate(regions)}
        values: dict[str, np.ndarray] = {}
        for part in (self, other):
            rows = np.array([row[r] for r in part.regions])
            start = (part.first_hour - first) // HOUR_MS
            for metric, block in part.values.items():
                target = values.setdefault(
                    metric, np.full((len(regions), hours), np.nan, dtype=np.float32)
                )
                view = target[rows, start : start + part.hours]
                target[rows, start : start + part.hours] = np.where(np.isfinite(block), block, view)
        return HourlySeries(regions, first, values)

    def save(self, path: Path) -> None:
        arrays = {f"metric:{m}": v.astype(np.float32) for m, v in self.values.items()}
        np.savez(
            path, regions=np.asarray(self.regions), first_hour=np.int64(self.first_hour), **arrays
        )

    @classmethod
    def load(
        cls,
        path: Path,
        metrics: Iterable[str] | None = None,
        known: Iterable[str] | None = None,
    ) -> HourlySeries:
        """Read a saved file; with ``metrics``, only those (the others stay on disk).

        With ``known`` (every metric name the config knows), a metric outside it is an
        error: a misspelt name would otherwise be a metric nobody judges, in silence."""
        wanted = set(metrics) if metrics is not None else None
        head = file_head(path)
        if head and not head.startswith(b"PK"):  # what numpy says of it advises pickles
            json = head.lstrip()[:1] in (b"{", b"[")
            kind = looks_like(head) or ("JSON (events are replayed with --data)" if json else None)
            raise HourlyFileError(
                f"{path}: not an hourly .npz file: {kind or 'not a zip archive'}; {LAYOUT}"
            )
        try:
            data = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise HourlyFileError(f"{path}: not an hourly .npz file ({exc}); {LAYOUT}") from exc
        with data:
            if not hasattr(data, "files"):
                raise HourlyFileError(f"{path}: one array, not an hourly .npz file; {LAYOUT}")
            missing = [name for name in ("regions", "first_hour") if name not in data.files]
            if missing:
                raise HourlyFileError(f"{path}: no {' or '.join(missing)} array; {LAYOUT}")
            names = [n.removeprefix("metric:") for n in data.files if n.startswith("metric:")]
            if known is not None:
                allowed = set(known)
                unknown = sorted(set(names) - allowed)
                if unknown:
                    raise HourlyFileError(
                        f"{path}: unknown metric {', '.join(map(repr, unknown))}"
                        f"{_did_you_mean(unknown[0], allowed)}; known: {_compact(allowed)}"
                    )
            if wanted is not None and names and not wanted & set(names):
                raise HourlyFileError(
                    f"{path}: none of the metrics the config judges "
                    f"({', '.join(sorted(wanted))}); the file has {', '.join(sorted(names))}"
                )
            chosen = [name for name in names if wanted is None or name in wanted]
            shapes = [_shape(path, data, f"metric:{name}") for name in chosen]
            held = sum(math.prod(shape) for shape in shapes)
            if held > MAX_VALUES:  # a compressed member inflates: judged before it is read
                raise TooManyValues(
                    f"{path}: {len(chosen)} metrics of {held:,} values (shapes "
                    f"{', '.join(map(str, sorted(set(shapes))))}), more than an hourly file "
                    f"holds ({MAX_VALUES:,})"
                )
            try:
                first_hour = int(data["first_hour"])
                values = {
                    name: data[f"metric:{name}"].astype(np.float64)
                    for name in names
                    if wanted is None or name in wanted
                }
                regions = [str(r) for r in data["regions"]]
            except (TypeError, ValueError) as exc:
                raise HourlyFileError(f"{path}: {exc}; {LAYOUT}") from exc
        if first_hour % HOUR_MS:
            raise HourlyFileError(
                f"{path}: first_hour {first_hour}{_when(first_hour)} is not the start of "
                "an hour (epoch milliseconds, a multiple of 3600000)"
            )
        try:
            return cls(regions, first_hour, values)
        except ValueError as exc:
            raise HourlyFileError(f"{path}: {exc}") from exc

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
        rows = np.fromiter((row[region] for region, _ in latest), np.int64, len(latest))
        cols = np.fromiter(((hour - first) // HOUR_MS for _, hour in latest), np.int64, len(latest))
        for m, column in metric_columns(list(latest.values()), names).items():
            values[m][rows, cols] = column
        return cls(regions, first, values)
