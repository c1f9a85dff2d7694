"""Hourly tumbling-window aggregation per region, in event time, with allowed lateness.

The core is pure: no I/O, no clocks. Time moves only with the events (the watermark), so
a replay of the same events yields the same hours, whether it runs embedded or in Faust.

Window life cycle for region r and hour [h, h+1h):
* the watermark is the largest event time seen minus ``watermark_delay``;
* when the watermark reaches h+1h the hour is *emitted* (revision 0), for every known
  region, with zeros where a region had no events;
* until the watermark reaches h+1h+``allowed_lateness`` a late event still updates the
  hour, and the hour is re-emitted as a *correction* (revision 1, 2, ...);
* after that the hour is *final*: its state is dropped and an event for it is dead-lettered
  as ``late``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from monitor.deadletters import DeadLetter, Reason
from monitor.schemas import Category, ComplaintEvent, Kpi, KpiSample, RegionInfo
from monitor.windows import HOUR_MS, to_iso

CATEGORIES: tuple[Category, ...] = tuple(Category)
KPIS: tuple[Kpi, ...] = tuple(Kpi)
_CATEGORY_INDEX = {category: i for i, category in enumerate(CATEGORIES)}
RATE_PER = 10_000  # complaint rates are per 10k subscribers


@dataclass(frozen=True)
class WindowConfig:
    allowed_lateness_ms: int = 2 * HOUR_MS
    watermark_delay_ms: int = 0


@dataclass(slots=True)
class HourBucket:
    """Mutable state of one region-hour: complaint counts and the raw KPI readings."""

    complaints: list[int] = field(default_factory=lambda: [0] * len(CATEGORIES))
    kpi_values: dict[str, list[float]] = field(default_factory=dict)

    def add_complaint(self, category: Category) -> None:
        self.complaints[_CATEGORY_INDEX[category]] += 1

    def add_kpi(self, kpi: Kpi, value: float) -> None:
        values = self.kpi_values.get(kpi.value)
        if values is None:
            self.kpi_values[kpi.value] = [value]
        else:
            values.append(value)

    def to_json(self) -> dict[str, object]:
        return {"complaints": list(self.complaints), "kpi_values": self.kpi_values}

    @classmethod
    def from_json(cls, data: dict[str, object]) -> HourBucket:
        return cls(complaints=list(data["complaints"]),  # type: ignore[call-overload]
                   kpi_values={k: list(v) for k, v in data["kpi_values"].items()})  # type: ignore[union-attr]


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) without numpy's per-call overhead."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


@dataclass(frozen=True, slots=True)
class HourlyAggregate:
    """One closed (or corrected) region-hour: the unit that detectors consume."""

    region: str
    hour: int
    revision: int
    subscribers: int | None
    complaints: tuple[int, ...]
    kpi: dict[str, tuple[int, float, float, float]]  # kpi -> (samples, mean, max, p95)

    def metrics(self) -> dict[str, float]:
        """Flatten to named metric values; these names are the detectors' vocabulary."""
        out: dict[str, float] = {}
        total = 0
        for category, count in zip(CATEGORIES, self.complaints, strict=True):
            out[f"complaints.{category.value}"] = float(count)
            total += count
        out["complaints.total"] = float(total)
        if self.subscribers:
            scale = RATE_PER / self.subscribers
            for category, count in zip(CATEGORIES, self.complaints, strict=True):
                out[f"complaint_rate.{category.value}"] = count * scale
            out["complaint_rate.total"] = total * scale
        for kpi in KPIS:
            _, mean, peak, p95 = self.kpi.get(kpi.value, (0, math.nan, math.nan, math.nan))
            out[f"kpi.{kpi.value}.mean"] = mean
            out[f"kpi.{kpi.value}.max"] = peak
            out[f"kpi.{kpi.value}.p95"] = p95
        return out

    def to_json(self) -> dict[str, object]:
        return {
            "region": self.region,
            "hour": self.hour,
            "hour_iso": to_iso(self.hour),
            "revision": self.revision,
            "subscribers": self.subscribers,
            "complaints": dict(zip((c.value for c in CATEGORIES), self.complaints, strict=True)),
            "kpi": {k: {"samples": n, "mean": m, "max": x, "p95": p}
                    for k, (n, m, x, p) in self.kpi.items()},
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> HourlyAggregate:
        complaints = data["complaints"]
        kpi = data["kpi"]
        return cls(
            region=str(data["region"]),
            hour=int(data["hour"]),  # type: ignore[call-overload]
            revision=int(data["revision"]),  # type: ignore[call-overload]
            subscribers=data["subscribers"],  # type: ignore[arg-type]
            complaints=tuple(int(complaints[c.value]) for c in CATEGORIES),  # type: ignore[index]
            kpi={k: (int(v["samples"]), v["mean"], v["max"], v["p95"])  # type: ignore[index]
                 for k, v in kpi.items()},  # type: ignore[union-attr]
        )


def summarise(region: str, hour: int, revision: int, bucket: HourBucket | None,
              subscribers: int | None) -> HourlyAggregate:
    """Pure: a bucket's state to the aggregate that leaves the window."""
    if bucket is None:
        return HourlyAggregate(region, hour, revision, subscribers, (0,) * len(CATEGORIES), {})
    kpi: dict[str, tuple[int, float, float, float]] = {}
    for name, values in bucket.kpi_values.items():
        ordered = sorted(values)
        kpi[name] = (len(ordered), sum(ordered) / len(ordered), ordered[-1],
                     percentile(ordered, 0.95))
    return HourlyAggregate(region, hour, revision, subscribers, tuple(bucket.complaints), kpi)


class HourlyAggregator:
    """Explicit-state hourly aggregation; feed events with ``add``, collect with ``poll``."""

    def __init__(self, config: WindowConfig | None = None) -> None:
        self.config = config or WindowConfig()
        self.subscribers: dict[str, int] = {}
        self.region_first_hour: dict[str, int] = {}
        self.buckets: dict[tuple[str, int], HourBucket] = {}
        self.revisions: dict[tuple[str, int], int] = {}  # emitted, not yet final
        self.dirty: set[tuple[str, int]] = set()
        self.max_event_time: int | None = None
        self.next_close: int | None = None  # first hour not yet emitted for all regions
        self.events_in = 0

    # -- time -------------------------------------------------------------------------
    @property
    def watermark(self) -> int | None:
        if self.max_event_time is None:
            return None
        return self.max_event_time - self.config.watermark_delay_ms

    def is_final(self, hour: int) -> bool:
        """True once no event may change ``hour`` any more."""
        mark = self.watermark
        return mark is not None and hour + HOUR_MS + self.config.allowed_lateness_ms <= mark

    # -- input ------------------------------------------------------------------------
    def add(self, event: ComplaintEvent | KpiSample | RegionInfo,
            raw: bytes = b"", source: str = "") -> DeadLetter | None:
        """Account one valid event; returns a dead letter if it arrived beyond lateness."""
        if isinstance(event, RegionInfo):
            self.subscribers[event.region] = event.subscribers
            return None
        hour = event.event_time - event.event_time % HOUR_MS
        if self.is_final(hour):
            return DeadLetter(
                reason=Reason.LATE,
                detail=(f"event_time {to_iso(event.event_time)} is in hour {to_iso(hour)}, "
                        f"final since watermark {to_iso(self.watermark or 0)} passed its end "
                        f"plus allowed lateness {self.config.allowed_lateness_ms // 1000}s"),
                raw=raw or event.model_dump_json().encode(),
                field="event_time",
                source=source,
            )
        self.events_in += 1
        region = event.region
        key = (region, hour)
        bucket = self.buckets.get(key)
        if bucket is None:
            bucket = self.buckets[key] = HourBucket()
        if isinstance(event, ComplaintEvent):
            bucket.add_complaint(event.category)
        else:
            bucket.add_kpi(event.kpi, event.value)
        first = self.region_first_hour.get(region)
        if first is None or hour < first:
            self.region_first_hour[region] = hour
        if self.next_close is None:
            self.next_close = hour
        if hour < self.next_close or key in self.revisions:
            self.dirty.add(key)  # an emitted (or pre-stream) hour changed: correction
        if self.max_event_time is None or event.event_time > self.max_event_time:
            self.max_event_time = event.event_time
        return None

    # -- output -----------------------------------------------------------------------
    def poll(self, *, until: int | None = None) -> list[HourlyAggregate]:
        """Emit every hour the watermark has passed, then corrections, then drop final state.

        ``until`` overrides the watermark (end of a replay: close everything).
        """
        mark = self.watermark if until is None else until
        out: list[HourlyAggregate] = []
        if mark is None or self.next_close is None:
            return out
        regions = sorted(self.region_first_hour)
        while self.next_close + HOUR_MS <= mark:
            hour = self.next_close
            for region in regions:
                if self.region_first_hour[region] > hour:
                    continue
                key = (region, hour)
                self.dirty.discard(key)
                self.revisions[key] = 0
                out.append(summarise(region, hour, 0, self.buckets.get(key),
                                     self.subscribers.get(region)))
            self.next_close = hour + HOUR_MS
        for key in sorted(self.dirty, key=lambda k: (k[1], k[0])):
            region, hour = key
            if hour >= self.next_close:
                continue  # still open: it will be emitted in order
            revision = self.revisions.get(key, -1) + 1
            self.revisions[key] = revision
            out.append(summarise(region, hour, revision, self.buckets.get(key),
                                 self.subscribers.get(region)))
        self.dirty = {key for key in self.dirty if key[1] >= self.next_close}
        self._drop_final(mark if until is None else None)
        return out

    def _drop_final(self, mark: int | None) -> None:
        if mark is None:
            return
        horizon = mark - self.config.allowed_lateness_ms - HOUR_MS
        for store in (self.buckets, self.revisions):
            for key in [k for k in store if k[1] <= horizon]:
                del store[key]

    def open_hours(self) -> Iterable[int]:
        return sorted({hour for _, hour in self.buckets})
