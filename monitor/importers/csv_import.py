"""``yujing import csv``: an export in, events (JSONL) or the hourly file out, every
rejected row kept with its reason."""

from __future__ import annotations

import csv
from collections.abc import Callable, Mapping
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import numpy as np
import orjson

from alerts.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from detectors.timeaxis import HOUR_MS, to_iso
from monitor.detection.hourly_file import HourlySeries, check_size
from monitor.events.deadletters import DeadLetter
from monitor.events.parsing import parse_event
from monitor.events.schemas import ComplaintEvent
from monitor.importers.csv_rows import (
    ImportReport,
    Rejected,
    RowReader,
    TimeBounds,
    Value,
    read_rows,
    region_refused,
)
from monitor.importers.mapping import ColumnMap
from monitor.windows.aggregation import RATE_PER, complaints_metric, rate_metric


def combine_rule(metric: str) -> str:
    """How several values of one region-hour combine: counts add up, maxima take the
    largest, anything else (rates, means, percentiles) is averaged."""
    if metric.startswith("complaints."):
        return "sum"
    if metric.endswith(".max"):
        return "max"
    return "mean"


@dataclass
class HourlyValues:
    """Values gathered per metric and region-hour: memory grows with the hours covered,
    not with the rows read."""

    cells: dict[str, dict[tuple[str, int], list[float]]] = field(default_factory=dict)
    # metrics counted from single complaints: an hour without one had none (0), where an
    # hour missing from aggregated values is unknown (NaN)
    counted: set[str] = field(default_factory=set)
    # (time, line) of the earliest and the latest row: what to look at when the series
    # would span more than an hourly file holds
    earliest: tuple[int, int] | None = None
    latest: tuple[int, int] | None = None

    def add(self, value: Value, line: int = 0) -> None:
        if self.earliest is None or value.time < self.earliest[0]:
            self.earliest = (value.time, line)
        if self.latest is None or value.time > self.latest[0]:
            self.latest = (value.time, line)
        hour = value.time - value.time % HOUR_MS
        cell = self.cells.setdefault(value.metric, {}).get((value.region, hour))
        if cell is None:
            self.cells[value.metric][(value.region, hour)] = [value.value, 1.0]
            return
        rule = combine_rule(value.metric)
        if rule == "max":
            cell[0] = max(cell[0], value.value)
        else:
            cell[0] += value.value
        cell[1] += 1

    def add_complaint(self, region: str, time: int, category: str, line: int = 0) -> None:
        """One complaint: it counts in its category and in the total."""
        for key in (category, "total"):
            self.counted.add(complaints_metric(key))
            self.add(Value(region, time, complaints_metric(key), 1.0), line)

    def series(self, subscribers: dict[str, int] | None = None) -> HourlySeries:
        """The gathered values; with ``subscribers``, complaint counts give rates too."""
        series = self._counts()
        for metric in self.counted:
            np.nan_to_num(series.values[metric], copy=False, nan=0.0)
        if subscribers:
            scale = np.array(
                [RATE_PER / subscribers[r] if r in subscribers else np.nan for r in series.regions]
            )[:, None]
            for metric in [m for m in series.values if m.startswith("complaints.")]:
                rate = rate_metric(metric.removeprefix("complaints."))
                series.values.setdefault(rate, (series.values[metric] * scale).astype(np.float32))
        return series

    def _counts(self) -> HourlySeries:
        keys = [key for cells in self.cells.values() for key in cells]
        if not keys:
            return HourlySeries([], 0, {})
        regions = sorted({region for region, _ in keys})
        first = min(hour for _, hour in keys)
        hours = (max(hour for _, hour in keys) - first) // HOUR_MS + 1
        ends = [  # (a line number where the values came from a file)
            to_iso(t) + (f" (line {n})" if n else "")
            for t, n in (self.earliest or (first, 0), self.latest or (first, 0))
        ]
        check_size(len(regions), hours, len(self.cells), f"the values from {' to '.join(ends)}")
        row = {r: i for i, r in enumerate(regions)}
        out = {}
        for metric, cells in self.cells.items():
            values = np.full((len(regions), hours), np.nan, dtype=np.float32)
            mean = combine_rule(metric) == "mean"
            for (region, hour), (total, count) in cells.items():
                values[row[region], (hour - first) // HOUR_MS] = total / count if mean else total
            out[metric] = values
        return HourlySeries(regions, first, out)


def read_regions(path: Path, recode: Mapping[str, str] | None = None) -> dict[str, int]:
    """Reference data for the events file: ``region,subscribers`` rows (a header first).
    Names go through the mapping's ``recode: region:`` as the export's do, and each row
    must be a region record the stream takes: a refused one is an error here, not a
    region record every replay dead-letters before the rows that name it."""
    regions: dict[str, int] = {}
    with path.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        try:
            if reader.fieldnames is None or not {"region", "subscribers"} <= {*reader.fieldnames}:
                raise ValueError(f"{path}: needs the columns region,subscribers")
            for row in reader:
                regions.update(_region_row(path, reader.line_num, row, recode or {}))
        except UnicodeDecodeError as exc:
            raise ValueError(
                f"{path}: not UTF-8 ({exc.reason} at byte {exc.start:,}); save it as UTF-8"
            ) from exc
        except csv.Error as exc:  # a field over the csv module's limit: in the next line
            raise ValueError(f"{path}: line {reader.line_num + 1}: {exc}") from exc
    return regions


def _region_row(
    path: Path, line: int, row: dict[str, str | None], recode: Mapping[str, str]
) -> dict[str, int]:
    """One row of the regions file as {name: subscribers}, or a ValueError naming its line."""
    given = (row["region"] or "").strip()
    name = recode.get(given, given)
    try:
        subscribers = int(row["subscribers"] or "")
    except ValueError as exc:
        raise ValueError(f"{path}: line {line}: subscribers is no whole number") from exc
    record = {"type": "region", "region": name, "subscribers": subscribers}
    parsed = parse_event(orjson.dumps(record), source=path.name, offset=line)
    if isinstance(parsed, DeadLetter):
        detail = region_refused(given, parsed.detail) if parsed.field == "region" else parsed.detail
        raise ValueError(f"{path}: line {line}: {detail}")
    return {name: subscribers}


def import_csv(
    source: Path,
    mapping: ColumnMap,
    out: Path,
    rejects: Path,
    known_metrics: frozenset[str],
    regions: dict[str, int] | None = None,
    seen: Callable[[int], None] = lambda n: None,
    taxonomy: Taxonomy = DEFAULT_TAXONOMY,
    bounds: TimeBounds | None = None,
) -> ImportReport:
    """Read ``source`` with ``mapping``; write events (``.jsonl``) or the hourly file
    (``.npz``: values, or complaints counted per hour) to ``out`` and every rejected row
    to ``rejects``. KPI readings become events only: their hourly statistics are the
    pipeline's (``backtest --data``). ``bounds``: the times the stream would accept."""
    report = ImportReport()
    reader = RowReader(mapping, source.name, known_metrics, taxonomy, bounds)
    to_hourly = out.suffix == ".npz"
    hourly = HourlyValues() if to_hourly else None
    with (
        source.open("rb") as fh,
        rejects.open("w", newline="", encoding="utf-8") as bad,
        _events_out(out, not to_hourly) as events,
    ):
        rejected = csv.writer(bad)
        rejected.writerow(["line", "column", "reason", "detail", "row"])
        if events is not None and regions:
            for name, subscribers in regions.items():
                events.write(_line({"type": "region", "region": name, "subscribers": subscribers}))
        for line, cells, raw in read_rows(fh, mapping, seen):
            report.rows += 1
            result = cells if isinstance(cells, Rejected) else reader.convert(line, cells, raw)
            if isinstance(result, Rejected):
                report.reject(result)
                rejected.writerow(
                    [result.line, result.column or "", result.reason, result.detail, *raw]
                )
                continue
            report.accepted += 1
            for item in result:
                if isinstance(item, Value):
                    assert hourly is not None
                    hourly.add(item, line)
                elif hourly is not None and isinstance(item, ComplaintEvent):
                    hourly.add_complaint(item.region, item.event_time, item.category, line)
                elif events is not None:
                    events.write(_line(item.model_dump(mode="json", exclude_none=True)))
    if hourly is not None:
        save_hourly(hourly.series(regions), out)
    return report


def save_hourly(series: HourlySeries, out: Path) -> bool:
    """Write the hourly file; an existing one gets these metrics added (regions and hours
    united). Returns whether it added to an existing file."""
    existing = out.exists()
    if existing:
        series = HourlySeries.load(out).merged(series)
    series.save(out)
    return existing


def _line(doc: dict[str, object]) -> bytes:
    return orjson.dumps(doc) + b"\n"


def _events_out(path: Path, wanted: bool) -> AbstractContextManager[IO[bytes] | None]:
    return path.open("wb") if wanted else nullcontext()
