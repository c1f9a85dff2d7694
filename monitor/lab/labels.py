"""Labelled events for ``yujing backtest --labels``, in the three forms people have them.

* incidents (what ``yujing simulate`` writes): ``{"incidents": [{"id", "kind", "region",
  "metric", "start", "end", "related"}, ...]}``: an event on one series (and its related
  metrics) of one region;
* anomaly windows (NAB's ``windows.json``): ``{"<series>": [[start, end], ...]}``;
* points: ``{"<series>": ["<time>", ...]}``: each labels its hour.

Beside incidents, a file from ``yujing tickets export-labels`` lists ``false_alarms``:
tickets people called false, each on its series over the hours it fired. A config that
fires on the same subject (``subject``) of that region in those hours, give or take
``FALSE_ALARM_MARGIN_MS``, raises it again; ``backtest --compare`` names the ones a
config change avoids.

In the last two forms ``<series>`` is a region, or ``region/metric`` for one metric of it;
a file name's extension is dropped (``nyc_taxi.csv`` is region ``nyc_taxi``), so NAB's
file loads as is next to hourly data whose regions are named after its series. Times are
ISO 8601; without a zone they are UTC (``2014-11-02 09:00:00.000000`` as NAB writes them).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import orjson

from alerts.outcomes import Outcome
from alerts.taxonomy import kpi_of
from alerts.tickets.view import TicketView
from detectors.timeaxis import HOUR_MS, from_iso, to_iso
from monitor.lab.simulate_events import Label

ANY_METRIC = "*"
MAX_LABELS_BYTES = 64 * 1024 * 1024
# a detection this close to a known false alarm's hours repeats it (a changed detector
# may fire a few hours earlier or later on the same wobble)
FALSE_ALARM_MARGIN_MS = 12 * HOUR_MS


class LabelsError(ValueError):
    """The labels file cannot be read; the message says where and why."""


def subject(metric: str) -> str:
    """What a metric is about: a count and a rate of the same complaints are one subject,
    as are a KPI's statistics (a config that swaps one for the other tells on-call of the
    same thing)."""
    family, _, rest = metric.partition(".")
    if family in ("complaints", "complaint_rate"):
        return f"complaints:{rest}"
    kpi = kpi_of(metric)
    return f"kpi:{kpi}" if kpi else metric


@dataclass(frozen=True, slots=True)
class KnownFalseAlarm:
    """A ticket people resolved as a false alarm, on its series over the hours it fired."""

    ticket: int
    region: str
    metric: str
    detector: str
    start: int
    end: int

    def covers(self, region: str, metric: str, hour: int) -> bool:
        return (
            region == self.region
            and subject(metric) == subject(self.metric)
            and self.start - FALSE_ALARM_MARGIN_MS <= hour <= self.end + FALSE_ALARM_MARGIN_MS
        )

    def describe(self) -> str:
        return f"#{self.ticket} {self.region} {self.metric} {to_iso(self.start)[:13]}h"

    def to_json(self) -> dict[str, object]:
        return {
            "ticket": self.ticket,
            "region": self.region,
            "metric": self.metric,
            "detector": self.detector,
            "start": to_iso(self.start),
            "end": to_iso(self.end),
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> KnownFalseAlarm:
        return cls(
            ticket=int(data["ticket"]),  # type: ignore[call-overload]
            region=str(data["region"]),
            metric=str(data["metric"]),
            detector=str(data.get("detector", "")),
            start=parse_time(data["start"]),
            end=parse_time(data["end"]),
        )


def _load(path: Path) -> object:
    try:
        if path.stat().st_size > MAX_LABELS_BYTES:
            raise LabelsError(f"{path}: larger than {MAX_LABELS_BYTES // 2**20} MiB")
        return orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise LabelsError(f"{path}: {exc}") from exc


def read_labels(path: Path) -> tuple[list[Label], list[KnownFalseAlarm]]:
    """The labelled events of a file and the false alarms it lists (none in most files)."""
    data = _load(path)
    try:
        has = isinstance(data, dict) and "incidents" in data  # not a NAB series
        alarms = data.get("false_alarms", []) if has else []  # type: ignore[union-attr]
        if not isinstance(alarms, list):
            raise ValueError("false_alarms: expected a list")
        return parse(data), [KnownFalseAlarm.from_json(a) for a in alarms]
    except (KeyError, TypeError, ValueError) as exc:
        raise LabelsError(f"{path}: {exc}") from exc


def read_any(path: Path) -> list[Label]:
    return read_labels(path)[0]


def parse(data: object) -> list[Label]:
    if isinstance(data, dict) and "incidents" in data:
        if not isinstance(data["incidents"], list):
            raise ValueError("incidents: expected a list")
        return [Label.from_json(item) for item in data["incidents"]]
    if not isinstance(data, dict):
        raise ValueError("expected an object: incidents, or series -> windows or points")
    labels: list[Label] = []
    for series, items in data.items():
        if not isinstance(items, list):
            raise ValueError(f"{series!r}: expected a list of windows or points")
        region, metric = _series(str(series))
        for k, item in enumerate(items):
            if isinstance(item, list) and len(item) == 2:
                start, end, kind = parse_time(item[0]), parse_time(item[1]), "window"
            elif isinstance(item, str | int | float):
                start = parse_time(item) // HOUR_MS * HOUR_MS
                end, kind = start + HOUR_MS - 1, "point"
            else:
                raise ValueError(f"{series!r}[{k}]: expected [start, end] or a time")
            if end < start:
                raise ValueError(f"{series!r}[{k}]: ends before it starts")
            labels.append(Label(f"{region}-{kind}-{k + 1}", kind, region, metric, start, end))
    return labels


def _series(name: str) -> tuple[str, str]:
    region, _, metric = name.partition("/")
    if not metric and "." in region:
        region = region.rsplit(".", 1)[0]  # a file name: nyc_taxi.csv
    return region, metric or ANY_METRIC


def parse_time(value: object) -> int:
    """Epoch ms from ISO 8601 (UTC when it names no zone) or a number of epoch ms."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return int(value)
    if not isinstance(value, str):
        raise ValueError(f"not a time: {value!r}")
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(f"not an ISO 8601 time: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return from_iso(parsed.isoformat())


def labels_from_outcomes(tickets: list[TicketView], start: int, end: int) -> dict[str, object]:
    """What people found, as labels for ``backtest --labels``: each confirmed fault first
    fired in [start, end) is an incident on its series over the hours it fired; false
    alarms are listed beside them (the scorer counts any ticket outside an incident as a
    false alarm; the list says which ones people called false)."""
    in_month = [t for t in tickets if start <= t.first_hour < end]
    incidents = [
        Label(
            id=f"ticket-{t.id}",
            kind=t.cause or "confirmed_fault",
            region=t.region,
            metric=t.metric,
            start=t.first_hour,
            end=t.last_fired_hour + HOUR_MS - 1,
        ).to_json()
        for t in in_month
        if t.outcome == Outcome.CONFIRMED_FAULT
    ]
    false_alarms = [
        KnownFalseAlarm(
            t.id, t.region, t.metric, t.detector, t.first_hour, t.last_fired_hour
        ).to_json()
        for t in in_month
        if t.outcome == Outcome.FALSE_ALARM
    ]
    return {"incidents": incidents, "false_alarms": false_alarms}
