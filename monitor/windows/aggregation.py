"""Hourly tumbling-window aggregation per region, in event time, with allowed lateness.

The core is pure: no I/O, no clocks. Time moves only with the events (the watermark), so
a replay of the same events yields the same hours, whether it runs embedded or in Faust.

Watermarks are kept per region (keyed watermarks), and per input kind within a region: a
region's watermark is the *smallest*, over its expected inputs (complaints, KPI samples),
of the largest event time seen of that input, minus ``watermark_delay``. Complaints and
KPIs travel on separate topics and a consumer may read one far ahead of the other (a replay
reads hours of one topic in one fetch); taking the minimum means neither input can close
an hour the other is still filling. An input that has sent nothing for ``idle_ms`` of the
runner's clock is idle and stops holding the watermark back (a quiet night without
complaints must not stall the KPIs); without a clock (replays) no input is ever idle.
The watermark never passes the runner's clock either: an event stamped hours ahead (a
device clock set wrong) waits in its hour and makes no true event late.
That makes a region's hours a function of the region's own events only, so a worker that
owns the region's partition computes what the embedded runner computes.

Window life cycle for region r and hour [h, h+1h):
* when r's watermark reaches h+1h the hour is *emitted* (revision 0), with zeros where
  nothing happened in the hour;
* until the watermark reaches h+1h+``allowed_lateness`` a late event still updates the
  hour, and the hour is re-emitted as a *correction* (revision 1, 2, ...);
* after that the hour is *final*: its state is dropped and an event for it is dead-lettered
  as ``late``.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

import msgspec
import numpy as np

from alerts.taxonomy import DEFAULT_TAXONOMY, KPI_COUNT_STATS, KPI_VALUE_STATS, Taxonomy
from detectors.timeaxis import HOUR_MS, to_iso
from monitor.events.deadletters import DeadLetter, Reason
from monitor.events.decoding import Report, ValidEvent, event_json
from monitor.events.schemas import KpiReport, RegionInfo

# the default taxonomy's names, in its order (a config may declare others: counts are
# kept by name, so a category added at a reload needs no restart)
CATEGORIES: tuple[str, ...] = DEFAULT_TAXONOMY.category_names
KPIS: tuple[str, ...] = DEFAULT_TAXONOMY.kpi_names
RATE_PER = 10_000  # complaint rates are per 10k subscribers
# the input (the watermark's kind) each event type belongs to: reports are KPI readings
INPUT_OF = {"complaint": "complaint", "kpi": "kpi", "kpi_report": "kpi"}


@dataclass(frozen=True)
class WindowConfig:
    allowed_lateness_ms: int = 2 * HOUR_MS
    watermark_delay_ms: int = 0
    inputs: tuple[str, ...] = ("complaint", "kpi")
    idle_ms: int | None = None
    # event times accepted: from ``earliest_ms`` to the runner's wall clock plus
    # ``max_future_ms`` (a clock set wrong, a year 9999, an epoch in microseconds)
    earliest_ms: int = 946_684_800_000  # 2000-01-01T00:00Z
    max_future_ms: int = 24 * HOUR_MS
    # a run of hours with no event at all longer than this is not filled with zeros: the
    # series see no data there, and closing hours never walks across a huge gap
    max_empty_hours: int = 168
    # which regions get window state: only those the reference data (region records)
    # names, or "any" name that passes the schema; up to ``max_regions`` either way (the
    # config's default is "reference"; this core default serves benchmarks and tests of
    # the windows alone)
    admit_regions: str = "any"
    max_regions: int = 5000


MAX_SITES = 1000  # per region, hour and KPI kept by site (beyond: in the region's stats only)
MAX_SOURCES = 4096  # source partitions followed for ``close_silent`` (topics x partitions)


@dataclass(slots=True)
class HourBucket:
    """Mutable state of one region-hour: complaint counts, the raw KPI readings, and per
    KPI and site the readings' count and sum (which site a ticket should name)."""

    complaints: dict[str, int] = field(default_factory=dict)  # category -> count
    kpi_values: dict[str, list[float]] = field(default_factory=dict)
    site_sums: dict[str, dict[str, list[float]]] = field(default_factory=dict)

    def add_complaint(self, category: str) -> None:
        self.complaints[category] = self.complaints.get(category, 0) + 1

    def add_kpi(self, kpi: str, value: float, site: str | None = None) -> None:
        values = self.kpi_values.get(kpi)
        if values is None:
            self.kpi_values[kpi] = [value]
        else:
            values.append(value)
        if site is not None:
            self._add_site(kpi, site, 1, value)

    def add_kpi_values(self, kpi: str, values: list[float], site: str | None = None) -> None:
        held = self.kpi_values.get(kpi)
        if held is None:
            self.kpi_values[kpi] = list(values)
        else:
            held.extend(values)
        if site is not None:
            self._add_site(kpi, site, len(values), sum(values))

    def _add_site(self, kpi: str, site: str, n: int, total: float) -> None:
        sites = self.site_sums.setdefault(kpi, {})
        held = sites.get(site)
        if held is not None:
            held[0] += n
            held[1] += total
        elif len(sites) < MAX_SITES:
            sites[site] = [float(n), total]

    def to_json(self) -> dict[str, object]:
        return {
            "complaints": dict(self.complaints),
            "kpi_values": self.kpi_values,
            "site_sums": self.site_sums,
        }

    @classmethod
    def from_json(cls, data: dict[str, object]) -> HourBucket:
        sums = data.get("site_sums") or {}  # state saved before sites were kept: none
        return cls(
            complaints=counts_by_name(data["complaints"]),
            kpi_values={k: list(v) for k, v in data["kpi_values"].items()},  # type: ignore[union-attr]
            site_sums={k: {s: list(v) for s, v in d.items()} for k, d in sums.items()},  # type: ignore[union-attr]
        )


def counts_by_name(counts: object) -> dict[str, int]:
    """Complaint counts by category; a list or tuple is positional in the default
    taxonomy's order (state saved before counts were kept by name)."""
    if isinstance(counts, dict):
        return {str(k): int(v) for k, v in counts.items() if int(v)}
    if isinstance(counts, list | tuple):
        return {c: int(n) for c, n in zip(CATEGORIES, counts, strict=False) if int(n)}
    raise TypeError(f"complaint counts as {type(counts).__name__}")


def percentile(sorted_values: list[float], q: float) -> float:
    """Linear-interpolated percentile (numpy's default) without numpy's per-call overhead."""
    if not sorted_values:
        return math.nan
    pos = (len(sorted_values) - 1) * q
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


KPI_STATS = KPI_VALUE_STATS  # per KPI and hour, over its sites' readings (NaN without one)
# how many readings of a KPI arrived in the hour, and from how many sites (0 without one):
# a dead feed or a dark site shows as NaN in every other statistic, and NaN is no evidence
READINGS, SITES = KPI_COUNT_STATS


def complaints_metric(category: str) -> str:
    return f"complaints.{category}"


def rate_metric(category: str) -> str:
    return f"complaint_rate.{category}"


def kpi_metric(kpi: str, stat: str) -> str:
    return f"kpi.{kpi}.{stat}"


def metric_names(taxonomy: Taxonomy = DEFAULT_TAXONOMY) -> list[str]:
    """Every metric an hourly aggregate has: the names detector specs may watch."""
    keys = [*taxonomy.category_names, "total"]
    return (
        [complaints_metric(k) for k in keys]
        + [rate_metric(k) for k in keys]
        + [kpi_metric(k, s) for k in taxonomy.kpi_names for s in KPI_STATS + KPI_COUNT_STATS]
    )


class HourlyAggregate(msgspec.Struct, frozen=True, gc=False):
    """One closed (or corrected) region-hour: the unit that detectors consume.

    A struct, not a dataclass: a catch-up builds one per region-hour, and a frozen
    dataclass's ``__init__`` cost ~1.9 µs of the ~10 that closing an hour takes (a struct's
    ~0.3). ``gc=False``: it holds only names and numbers, so it is never part of a cycle
    and the collector need not track the thousands a catch-up makes."""

    region: str
    hour: int
    revision: int
    subscribers: int | None
    # category -> complaints (a category without one is absent: it had 0); a tuple is
    # taken as positional in the default taxonomy's order
    complaints: Mapping[str, int]
    kpi: dict[str, tuple[int, float, float, float]]  # kpi -> (samples, mean, max, p95)
    # kpi -> site -> the site's mean this hour (where the readings named their site)
    site_means: Mapping[str, Mapping[str, float]] = msgspec.field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.complaints, dict):
            msgspec.structs.force_setattr(self, "complaints", counts_by_name(self.complaints))

    @property
    def total(self) -> int:
        return sum(self.complaints.values())

    def value(self, metric: str) -> float:
        """One named metric of this hour (``metric_reader``)."""
        return metric_reader(metric)(self)

    def metrics(self, taxonomy: Taxonomy = DEFAULT_TAXONOMY) -> dict[str, float]:
        """Flatten to named metric values; these names are the detectors' vocabulary."""
        names = metric_names(taxonomy)
        names += [complaints_metric(c) for c in self.complaints if c not in taxonomy.category_names]
        return {name: self.value(name) for name in names}

    def to_json(self) -> dict[str, object]:
        return {
            "region": self.region,
            "hour": self.hour,
            "hour_iso": to_iso(self.hour),
            "revision": self.revision,
            "subscribers": self.subscribers,
            "complaints": dict(self.complaints),
            "kpi": {
                k: {"samples": n, "mean": m, "max": x, "p95": p}
                for k, (n, m, x, p) in self.kpi.items()
            },
            "site_means": {k: dict(v) for k, v in self.site_means.items()},
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
            complaints=counts_by_name(complaints),
            kpi={
                k: (int(v["samples"]), v["mean"], v["max"], v["p95"])  # type: ignore[index]
                for k, v in kpi.items()
            },  # type: ignore[union-attr]
            site_means={
                str(k): {str(site): float(m) for site, m in v.items()}
                for k, v in (data.get("site_means") or {}).items()  # type: ignore[union-attr]
            },
        )


Reader = Callable[[HourlyAggregate], float]
HOUR_OF = operator.attrgetter("hour")


@lru_cache(maxsize=4096)
def metric_parts(metric: str) -> tuple[str, str, int]:
    """(family, name, statistic's index) of a metric name: "complaints" or
    "complaint_rate" with a category (or "total"), "kpi" with a KPI and the index of
    its statistic in an aggregate's (samples, mean, max, p95), or "kpi_sites" with a KPI
    (the count of its sites' means); the family is "" for a name no aggregate has (always
    NaN)."""
    family, _, rest = metric.partition(".")
    if family in ("complaints", "complaint_rate"):
        return family, rest, 0
    name, _, stat = rest.rpartition(".")
    if family != "kpi" or not name:
        return "", "", 0
    if stat == SITES:
        return "kpi_sites", name, 0
    if stat == READINGS:
        return family, name, 0
    if stat not in KPI_STATS:
        return "", "", 0
    return family, name, 1 + KPI_STATS.index(stat)


@lru_cache(maxsize=4096)
def metric_reader(metric: str) -> Reader:
    """How one named metric is read off an aggregate, worked out once per name: a
    complaint count (0 for a category without complaints), a rate (NaN without a
    subscriber count) or a KPI statistic (NaN without readings)."""
    family, name, at = metric_parts(metric)
    if family in ("complaints", "complaint_rate"):
        if name == "total":

            def count(a: HourlyAggregate) -> int:
                return a.total
        else:

            def count(a: HourlyAggregate) -> int:
                return a.complaints.get(name, 0)

        if family == "complaints":
            return lambda a: float(count(a))
        return lambda a: count(a) * RATE_PER / a.subscribers if a.subscribers else math.nan
    if family == "kpi_sites":
        return lambda a: float(len(a.site_means.get(name, ())))
    if family != "kpi":
        return lambda _a: math.nan
    absent = 0.0 if at == 0 else math.nan  # no readings: 0 of them, no statistic

    def kpi(a: HourlyAggregate) -> float:
        stats = a.kpi.get(name)
        return absent if stats is None else float(stats[at])

    return kpi


def metric_columns(
    aggregates: Sequence[HourlyAggregate], metrics: Iterable[str]
) -> dict[str, np.ndarray]:
    """Each metric over many aggregates at once, the values ``metric_reader`` gives one by
    one: a catch-up writes thousands of region-hours to the series store at a time, and a
    reader call per metric and region-hour cost more (the default config's 12 metrics,
    hours of the reports mix: ~12 µs a region-hour against ~9)."""
    n = len(aggregates)
    parts = {m: metric_parts(m) for m in metrics}
    counted = {
        name for family, name, _ in parts.values() if family in ("complaints", "complaint_rate")
    }
    kpis = {name for family, name, _ in parts.values() if family == "kpi"}
    counts = {c: np.zeros(n) for c in counted - {"total"}}
    stats = {k: np.full((n, len(KPI_STATS) + 1), np.nan) for k in kpis}
    # the values each aggregate has, gathered per name (most hours lack most categories)
    for arrays, held_in in ((counts, "complaints"), (stats, "kpi")):
        if not arrays:
            continue
        rows: dict[str, list[int]] = {name: [] for name in arrays}
        values: dict[str, list[Any]] = {name: [] for name in arrays}
        for i, a in enumerate(aggregates):
            for name, value in getattr(a, held_in).items():
                if name in arrays:
                    rows[name].append(i)
                    values[name].append(value)
        for name, array in arrays.items():
            if rows[name]:
                array[rows[name]] = values[name]
    if "total" in counted:  # every category's, watched or not
        counts["total"] = np.fromiter(
            (sum(a.complaints.values()) for a in aggregates), float, count=n
        )
    subscribers = None
    out: dict[str, np.ndarray] = {}
    for metric, (family, name, at) in parts.items():
        if family == "complaints":
            out[metric] = counts[name].copy()
        elif family == "complaint_rate":
            if subscribers is None:
                subscribers = np.fromiter((a.subscribers or 0 for a in aggregates), float, count=n)
            with np.errstate(divide="ignore", invalid="ignore"):
                rate = counts[name] * RATE_PER / subscribers
            out[metric] = np.where(subscribers != 0, rate, np.nan)
        elif family == "kpi":
            column = stats[name][:, at]
            out[metric] = np.nan_to_num(column, nan=0.0) if at == 0 else column.copy()
        elif family == "kpi_sites":
            out[metric] = np.fromiter(
                (len(a.site_means.get(name, ())) for a in aggregates), float, count=n
            )
        else:
            out[metric] = np.full(n, np.nan)
    return out


def summarise(
    region: str, hour: int, revision: int, bucket: HourBucket | None, subscribers: int | None
) -> HourlyAggregate:
    """Pure: a bucket's state to the aggregate that leaves the window."""
    if bucket is None:
        return HourlyAggregate(region, hour, revision, subscribers, {}, {})
    kpi: dict[str, tuple[int, float, float, float]] = {}
    for name, values in bucket.kpi_values.items():
        if len(values) == 1:  # most hours of a sampled KPI: what the formulas give, directly
            value = values[0]
            kpi[name] = (1, value, value, value)
            continue
        ordered = sorted(values)
        kpi[name] = (
            len(ordered),
            sum(ordered) / len(ordered),
            ordered[-1],
            percentile(ordered, 0.95),
        )
    site_means = {
        name: {site: total / n for site, (n, total) in sites.items() if n}
        for name, sites in bucket.site_sums.items()
    }
    return HourlyAggregate(
        region, hour, revision, subscribers, dict(bucket.complaints), kpi, site_means
    )


class Outcome(Enum):
    ACCEPTED = "accepted"
    LATE = "late"  # accepted into an hour already emitted: the hour will be corrected
    DUPLICATE = "duplicate"


def time_field(event: ValidEvent) -> str:
    """The field a dead letter blames for an event's time: a report's period start, any
    other event's time."""
    return "period_start" if event.type == "kpi_report" else "event_time"


def event_identity(event: ValidEvent) -> str:
    """What makes two deliveries the same event: the complaint id, site+KPI+time, or for a
    report its site and period."""
    kind = event.type  # not isinstance: the models' ABC metaclass makes it ~0.15 µs a call
    if kind == "complaint":
        return event.id  # type: ignore[union-attr]
    if kind == "kpi_report":
        return f"report\x1f{event.site}\x1f{event.period_start}\x1f{event.interval_s}"
    return f"{event.site}\x1f{event.kpi}\x1f{event.event_time}"


class RegionWindows:
    """Window state of one region, with its own watermark (keyed watermarks).

    Per-region state is what makes the core partitionable: a Kafka partition keyed by region
    carries everything a region's windows need, so any worker that owns the partition can
    take over the region from its serialised state.
    """

    __slots__ = (
        "applied",
        "buckets",
        "clock_ms",
        "config",
        "dirty",
        "first_arrival",
        "kind_arrival",
        "kind_max",
        "newest",
        "next_close",
        "region",
        "revisions",
        "seen",
        "subscribers",
        "swept",
    )

    def __init__(self, region: str, config: WindowConfig) -> None:
        self.region = region
        self.config = config
        self.subscribers: int | None = None
        self.kind_max: dict[str, int] = {}  # largest event time per input kind
        self.newest: int | None = None  # the largest of them (kept, not recomputed)
        self.kind_arrival: dict[str, int] = {}  # runner clock at the last arrival per kind
        self.first_arrival: int | None = None
        self.clock_ms: int | None = None  # the runner's clock, when it has one
        self.next_close: int | None = None  # first hour not yet emitted
        self.buckets: dict[int, HourBucket] = {}
        self.revisions: dict[int, int] = {}  # emitted hours, not yet final
        self.dirty: set[int] = set()
        self.seen: dict[int, set[str]] = {}  # event identities per non-final hour
        # highest input offset applied per source partition: a replay after a crash skips
        # what this state already holds, however old (identities only cover open hours)
        self.applied: dict[str, int] = {}
        # the hour up to which final hours were dropped (``poll``); until it moves, only
        # a late event can enter an hour at or before it, and that calls for a sweep
        self.swept: int | None = None

    @property
    def max_event_time(self) -> int | None:
        return self.newest

    def _idle(self, kind: str) -> bool:
        idle_ms, now = self.config.idle_ms, self.clock_ms
        if idle_ms is None or now is None:
            return False
        last = self.kind_arrival.get(kind, self.first_arrival)
        return last is not None and now - last >= idle_ms

    @property
    def watermark(self) -> int | None:
        """Never past the runner's clock, when it has one: an event from a device clock
        hours ahead (within ``max_future_ms``) is taken into its hour, but had it moved
        the watermark, every true event of the hours between would have been late."""
        marks = []
        for kind in self.config.inputs:
            if self._idle(kind):
                continue
            mark = self.kind_max.get(kind)
            if mark is None:
                return None  # an expected input has not spoken yet: wait for it
            marks.append(mark)
        if not marks:  # every input idle: the newest event is all we know
            if not self.kind_max:
                return None
            marks = [max(self.kind_max.values())]
        mark = min(marks)
        if self.clock_ms is not None and mark > self.clock_ms:
            mark = self.clock_ms
        return mark - self.config.watermark_delay_ms

    def silent(self, now: int) -> bool:
        """Every input idle by the runner's clock ``now``: the region spoke once, and
        nothing of it has arrived for ``idle_ms`` since (never, without a clock)."""
        if self.config.idle_ms is None or not self.kind_max:
            return False
        self.clock_ms = now
        return all(self._idle(kind) for kind in self.config.inputs)

    def is_final(self, hour: int) -> bool:
        """True once no event may change ``hour`` any more."""
        mark = self.watermark
        return mark is not None and hour + HOUR_MS + self.config.allowed_lateness_ms <= mark

    def _may_be_final(self, hour: int) -> bool:
        """False when ``hour`` cannot be final: the watermark is never past the newest
        event time minus the delay. Most events land in the open hours at the front, and
        this spares them the watermark's walk over the inputs."""
        config = self.config
        newest = self.newest
        return newest is not None and (
            hour + HOUR_MS + config.allowed_lateness_ms <= newest - config.watermark_delay_ms
        )

    def add(
        self,
        event: ValidEvent,
        raw: bytes = b"",
        source: str = "",
        position: tuple[str, int] | None = None,
        now: int | None = None,
        offset: int | None = None,
    ) -> DeadLetter | Outcome:
        """Account one event. ``position`` is (source partition, offset) when the input is
        a replayable log; events at or below the last applied offset are redeliveries.
        ``now`` is the runner's clock (live workers): it finds idle inputs and bounds the
        watermark; ``offset`` is where the event came from (a line), kept in a dead
        letter."""
        if now is not None:
            self.clock_ms = now
        if position is not None:
            partition, offset = position
            if offset <= self.applied.get(partition, -1):
                return Outcome.DUPLICATE
            self.applied[partition] = offset
        report = event.type == "kpi_report"
        moment = event.period_start if report else event.event_time  # type: ignore[union-attr]
        first = moment - moment % HOUR_MS
        if self._may_be_final(first) and self.is_final(first):
            return self._late(event, time_field(event), moment, raw, source, offset)
        seen = self.seen.get(first)
        if seen is None:
            seen = self.seen[first] = set()
        identity = event_identity(event)
        if identity in seen:
            return Outcome.DUPLICATE  # a redelivery (producer retry, replay after a crash)
        seen.add(identity)
        if report:
            touched = self._add_readings(event)  # type: ignore[arg-type]
        else:
            bucket = self._bucket(first)
            if event.type == "complaint":
                bucket.add_complaint(event.category)  # type: ignore[union-attr]
            else:
                bucket.add_kpi(event.kpi, event.value, event.site)  # type: ignore[union-attr]
            touched = (first,)
        next_close = self.next_close
        if next_close is None:
            next_close = self.next_close = first
        late = first < next_close
        if late:  # an emitted (or pre-stream) hour changed: correction
            self.dirty.update(h for h in touched if h < next_close)
            if self.swept is not None and first <= self.swept:
                self.swept = None  # the watermark went back (an idle input spoke): sweep
        kind = INPUT_OF[event.type]
        last = event.event_time
        if last > self.kind_max.get(kind, -1):
            self.kind_max[kind] = last
            if self.newest is None or last > self.newest:
                self.newest = last
        if now is not None:
            self.kind_arrival[kind] = now
            if self.first_arrival is None:
                self.first_arrival = now
        return Outcome.LATE if late else Outcome.ACCEPTED

    def _bucket(self, hour: int) -> HourBucket:
        bucket = self.buckets.get(hour)
        if bucket is None:
            bucket = self.buckets[hour] = HourBucket()
        return bucket

    def _add_readings(self, report: KpiReport | Report) -> set[int]:
        """A report's readings, each into its hour; returns the hours touched."""
        step = report.interval_s * 1000
        touched: set[int] = set()
        for kpi, values in report.kpis.items():
            i, n, t = 0, len(values), report.period_start
            while i < n:  # one slice per hour the readings fall in (usually one)
                hour = t - t % HOUR_MS
                j = min(n, i + -(-(hour + HOUR_MS - t) // step))
                self._bucket(hour).add_kpi_values(
                    kpi, values[i:j] if i or j < n else values, report.site
                )
                touched.add(hour)
                t += (j - i) * step
                i = j
        return touched

    def _late(
        self,
        event: ValidEvent,
        field: str,
        moment: int,
        raw: bytes,
        source: str,
        offset: int | None,
    ) -> DeadLetter:
        hour = moment - moment % HOUR_MS
        return DeadLetter(
            reason=Reason.LATE,
            detail=(
                f"{field} {to_iso(moment)} is in hour {to_iso(hour)}, final since the "
                f"watermark of {self.region} ({to_iso(self.watermark or 0)}) passed its "
                f"end plus allowed lateness {self.config.allowed_lateness_ms // 1000}s"
            ),
            raw=raw or event_json(event),
            field=field,
            source=source,
            offset=offset,
        )

    def poll(self, until: int | None = None, now: int | None = None) -> list[HourlyAggregate]:
        """Emit hours the watermark passed, then corrections; drop state of final hours."""
        if now is not None:
            self.clock_ms = now
        watermark = self.watermark  # polling does not move it
        mark = watermark if until is None else until
        out: list[HourlyAggregate] = []
        if mark is None or self.next_close is None:
            return out
        target = mark - mark % HOUR_MS  # the first hour the watermark has not passed
        for hour in self._hours_to_close(target):
            self.dirty.discard(hour)
            self.revisions[hour] = 0
            out.append(summarise(self.region, hour, 0, self.buckets.get(hour), self.subscribers))
        self.next_close = max(self.next_close, target)
        if self.dirty:
            for hour in sorted(self.dirty):
                if hour >= self.next_close:
                    continue
                revision = self.revisions.get(hour, -1) + 1
                self.revisions[hour] = revision
                out.append(
                    summarise(self.region, hour, revision, self.buckets.get(hour), self.subscribers)
                )
            self.dirty = {hour for hour in self.dirty if hour >= self.next_close}
        if until is None and watermark is not None:
            horizon = watermark - self.config.allowed_lateness_ms - HOUR_MS
            horizon -= horizon % HOUR_MS  # hours are final up to it (``is_final``)
            if horizon != self.swept:  # (an idle input that speaks again moves it back)
                self.swept = horizon
                for store in (self.buckets, self.revisions, self.seen):
                    for hour in [h for h in store if h <= horizon]:
                        del store[hour]
        return out

    def _hours_to_close(self, target: int) -> list[int]:
        """Hours from ``next_close`` up to ``target``: every hour with data, and the empty
        hours after each, at most ``max_empty_hours`` of them (so a jump of the watermark
        across months costs the hours that had events, not one per hour of the gap)."""
        assert self.next_close is not None
        limit = self.config.max_empty_hours * HOUR_MS
        if target - self.next_close <= limit:
            return list(range(self.next_close, target, HOUR_MS))
        data = sorted(h for h in self.buckets if self.next_close <= h < target)
        out: list[int] = []
        after = self.next_close  # the first hour of the current empty run
        for stop in [*data, target]:
            out.extend(range(after, min(stop, after + limit), HOUR_MS))
            if stop < target:
                out.append(stop)
            after = stop + HOUR_MS
        return out

    # -- persistence (Faust table values) ---------------------------------------------
    def to_json(self) -> dict[str, object]:
        return {
            "region": self.region,
            "subscribers": self.subscribers,
            "kind_max": self.kind_max,
            "kind_arrival": self.kind_arrival,
            "first_arrival": self.first_arrival,
            "clock_ms": self.clock_ms,
            "next_close": self.next_close,
            "buckets": {str(h): b.to_json() for h, b in self.buckets.items()},
            "revisions": {str(h): r for h, r in self.revisions.items()},
            "dirty": sorted(self.dirty),
            "seen": {str(h): sorted(ids) for h, ids in self.seen.items()},
            "applied": self.applied,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], config: WindowConfig) -> RegionWindows:
        state = cls(str(data["region"]), config)
        state.subscribers = data.get("subscribers")
        state.kind_max = {str(k): int(v) for k, v in data.get("kind_max", {}).items()}
        state.newest = max(state.kind_max.values(), default=None)
        state.kind_arrival = {str(k): int(v) for k, v in data.get("kind_arrival", {}).items()}
        state.first_arrival = data.get("first_arrival")
        state.clock_ms = data.get("clock_ms")
        state.next_close = data.get("next_close")
        state.buckets = {int(h): HourBucket.from_json(b) for h, b in data["buckets"].items()}
        state.revisions = {int(h): int(r) for h, r in data["revisions"].items()}
        state.dirty = {int(h) for h in data["dirty"]}
        state.seen = {int(h): set(ids) for h, ids in data["seen"].items()}
        state.applied = {str(k): int(v) for k, v in data.get("applied", {}).items()}
        return state


def time_out_of_bounds(
    event: ValidEvent,
    last: int,
    config: WindowConfig,
    wall: int,
    raw: bytes = b"",
    source: str = "",
    offset: int | None = None,
) -> DeadLetter | None:
    """A ``bad_time`` dead letter when an event's time is before ``earliest_ms`` or later
    than the wall clock plus ``max_future_ms``; None when it is within. ``last``: its
    ``event_time`` (a report's last reading, computed by the caller once)."""
    report = event.type == "kpi_report"
    first = event.period_start if report else last  # type: ignore[union-attr]
    if config.earliest_ms <= first and last <= wall + config.max_future_ms:
        return None  # (the hot path: most events, no name of a field looked up)
    field = time_field(event)
    detail = outside_accepted_times(field, first, last, config, wall)
    return (
        None if detail is None else DeadLetter(Reason.BAD_TIME, detail, raw, field, source, offset)
    )


def outside_accepted_times(
    field: str, first: int, last: int, config: WindowConfig, wall: int
) -> str | None:
    """Why times from ``first`` to ``last`` are outside what the config accepts by the
    ``wall`` clock (the stream's dead letter, an import's rejected row); None if within."""
    if first < config.earliest_ms:
        return (
            f"{field} {_when(first)} is before the earliest accepted time "
            f"{_when(config.earliest_ms)} (windows.earliest_event_time)"
        )
    if last > wall + config.max_future_ms:
        return (
            f"{field} {_when(last)} is {(last - wall) / HOUR_MS:,.1f} h ahead of this "
            f"runner's clock (windows.max_future_minutes allows "
            f"{config.max_future_ms / HOUR_MS:g} h)"
        )
    return None


def _when(epoch_ms: int) -> str:
    """ISO 8601 where a calendar has the date, else the raw number (year 10^20 has none)."""
    try:
        return to_iso(epoch_ms)
    except (ValueError, OverflowError, OSError):
        return f"{epoch_ms} ms"


class HourlyAggregator:
    """The windows of every region this process owns; ``add`` events, ``poll`` closed hours.

    A replay holds every region in memory. A Faust worker owns only its partitions' regions
    and keeps their state in a changelogged table: it passes a ``loader`` that returns a
    region's saved state (or None), and after each batch saves what ``take_touched`` hands
    back. Both runners go through this one class.
    """

    def __init__(
        self,
        config: WindowConfig | None = None,
        loader: Callable[[str], dict[str, Any] | None] | None = None,
    ) -> None:
        self.config = config or WindowConfig()
        self.loader = loader
        self.regions: dict[str, RegionWindows] = {}
        self.subscribers: dict[str, int] = {}
        self.max_event_time: int | None = None
        self._touched: dict[str, RegionWindows] = {}  # changed since the last save
        # changed since the last ``poll_changed``: a worker saves every few seconds but
        # closes every batch, and a region its batch did not touch has nothing to close
        # (polling every region touched since the save cost ~9 µs a region a batch)
        self._unpolled: set[str] = set()
        # per source partition a live runner reads ("topic:partition"): [the newest event
        # time read from it, the runner's clock when it last delivered] (``close_silent``)
        self.sources: dict[str, list[int]] = {}

    def _hold(self, name: str, saved: dict[str, Any] | None) -> RegionWindows:
        """Keep a region's window state in memory: its saved state, or a new one."""
        state = RegionWindows.from_json(saved, self.config) if saved else None
        if state is None:
            state = RegionWindows(name, self.config)
        state.subscribers = self.subscribers.get(name, state.subscribers)
        self.regions[name] = state
        return state

    def add(
        self,
        event: ValidEvent | RegionInfo,
        raw: bytes = b"",
        source: str = "",
        position: tuple[str, int] | None = None,
        now: int | None = None,
        wall: int | None = None,
        offset: int | None = None,
    ) -> DeadLetter | Outcome:
        """Account one valid event; a dead letter if it arrived beyond lateness, or (given
        the ``wall`` clock) if its time is outside what the config accepts."""
        if event.type == "region":
            self.set_subscribers({event.region: event.subscribers})  # type: ignore[union-attr]
            return Outcome.ACCEPTED
        if position is not None:
            offset = position[1]
        last = event.event_time  # a report's is computed: once, for the bounds and the newest
        if wall is not None:
            bad = time_out_of_bounds(event, last, self.config, wall, raw, source, offset)
            if bad is not None:
                return bad
        if now is not None and position is not None:  # a live runner's source
            source_read = self.sources.get(position[0])
            if source_read is None:
                if len(self.sources) < MAX_SOURCES:
                    self.sources[position[0]] = [last, now]
            else:
                if last > source_read[0]:
                    source_read[0] = last
                source_read[1] = now
        state = self.regions.get(event.region)
        if state is None:
            admitted = self._admit(event.region)
            if not isinstance(admitted, RegionWindows):
                reason, detail = admitted
                return DeadLetter(reason, detail, raw, "region", source, offset)
            state = admitted
        if self.max_event_time is None or last > self.max_event_time:
            self.max_event_time = last
        self._touched[event.region] = state
        self._unpolled.add(event.region)
        return state.add(event, raw, source, position, now, offset)

    def _admit(self, name: str) -> RegionWindows | tuple[Reason, str]:
        """A region not held yet: its window state, or why it gets none. Memory per region
        is real (windows, series, metric series): names are not free."""
        if self.config.admit_regions == "reference" and name not in self.subscribers:
            return Reason.UNKNOWN_REGION, (
                f"region {name!r} is not in the reference data (windows.admit_regions: "
                "reference); send its region record first"
            )
        saved = self.loader(name) if self.loader is not None else None
        if not saved and len(self.regions) >= self.config.max_regions:
            # a region this worker already keeps (saved) is never refused
            return Reason.REGION_CAP, (
                f"region {name!r} would be region {len(self.regions) + 1:,}; "
                f"windows.max_regions is {self.config.max_regions:,}"
            )
        return self._hold(name, saved)

    def hold_saved(self, saved: Iterable[tuple[str, dict[str, Any]]]) -> int:
        """Regions a worker takes over, held from their saved state before they speak
        (otherwise each is loaded by its next event): one silent since before the worker
        started is then closed by ``close_silent`` too. Returns how many were held."""
        held = 0
        for name, state in saved:
            if name not in self.regions:
                self._hold(name, state)
                held += 1
        return held

    def set_subscribers(self, subscribers: dict[str, int]) -> None:
        """Reference data (subscribers per region): rates of hours closed from now on."""
        self.subscribers.update(subscribers)
        for name, count in subscribers.items():
            state = self.regions.get(name)
            if state is not None:
                state.subscribers = count

    def reconfigure(self, config: WindowConfig) -> None:
        self.config = config
        for state in self.regions.values():
            state.config = config

    def forget(self) -> None:
        """Drop the regions held in memory (a worker's partitions moved: the table is the
        truth for the ones it still owns)."""
        self.regions.clear()
        self._touched.clear()
        self._unpolled.clear()

    @property
    def touched(self) -> list[str]:
        """Regions changed since the last ``take_touched`` (those a worker saves next)."""
        return list(self._touched)

    def take_touched(self) -> dict[str, RegionWindows]:
        """Regions changed since the last call (a worker saves these to its table)."""
        touched, self._touched = self._touched, {}
        return touched

    def poll(
        self,
        *,
        until: int | None = None,
        now: int | None = None,
        regions: Iterable[str] | None = None,
    ) -> list[HourlyAggregate]:
        """Everything the watermarks closed (``until``: close up to there), of ``regions``
        (default: all held); ``now`` is a live runner's clock, for idle inputs."""
        names = sorted(self.regions if regions is None else regions)
        out: list[HourlyAggregate] = []
        for name in names:
            out.extend(self.regions[name].poll(until, now))
        # by hour, then region: a region's poll closes an hour once (new or corrected),
        # and the regions came in name order, so a stable sort by the hour alone gives
        # it (a catch-up sorts thousands: ~0.08 µs each, against ~0.55 by the triple)
        out.sort(key=HOUR_OF)
        return out

    def stream_watermark(self, now: int) -> int | None:
        """How far the sources have delivered, by the runner's clock ``now``: the smallest
        newest event time over the source partitions, those idle for ``idle_ms`` aside (all
        idle: the newest of them), less the delay. The keyed watermark's rule, one level
        up: a source is read in order, so a region's events up to here have arrived from
        every source still speaking. Never past ``now``: one event from a device clock
        hours ahead (within ``max_future_ms``) must not close every silent region's hours
        up to it. None without a clock or before any source spoke."""
        idle_ms = self.config.idle_ms
        if idle_ms is None or not self.sources:
            return None
        speaking = [newest for newest, arrival in self.sources.values() if now - arrival < idle_ms]
        mark = min(speaking) if speaking else max(newest for newest, _ in self.sources.values())
        return min(mark, now) - self.config.watermark_delay_ms

    def close_silent(self, now: int, mark: int | None = None) -> list[HourlyAggregate]:
        """Hours of the regions idle on every input, closed up to ``stream_watermark`` (or
        ``mark``: a replay read in time order has come to its own clock everywhere).

        A region's own watermark stands at its own newest event: a small region at night
        whose KPI feed died, with no complaints either, kept its last hour open until it
        spoke again, and the drop detector never saw the silence. The stream it shares
        goes on, and shows how far its events can have come. Its hours close empty (or
        with what arrived); its own watermark does not move, so an event that still comes
        for them is a correction, never a late dead letter."""
        if mark is None:
            mark = self.stream_watermark(now)
        if mark is None:
            return []
        out: list[HourlyAggregate] = []
        for name in sorted(self.regions):
            state = self.regions[name]
            if state.silent(now):
                closed = state.poll(mark, now)
                if closed:
                    out.extend(closed)
                    self._touched[name] = state  # its next hour to close moved: saved
        out.sort(key=HOUR_OF)
        return out

    def poll_changed(self, now: int | None = None) -> list[HourlyAggregate]:
        """``poll`` of the regions that took an event since the last call: only those can
        have hours to close (or correct) since then."""
        names, self._unpolled = self._unpolled, set()
        return self.poll(now=now, regions=[name for name in names if name in self.regions])
