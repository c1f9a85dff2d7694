"""Pipeline configuration: windows, detector specs and alert policy, validated by pydantic.

The YAML file is the engineers' interface; the models here say what is allowed, so a typo
in a metric or a parameter is an error at load time, never a detector that silently
watches nothing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable
from datetime import UTC, date, datetime, timezone, tzinfo
from functools import cached_property
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from alerts.findings import Severity
from alerts.notify.settings import NotificationSettings
from alerts.policy.settings import AlertSettings
from alerts.taxonomy import (
    DEFAULT_TAXONOMY,
    KPI_COUNT_STATS,
    KPI_VALUE_STATS,
    CategoryInfo,
    Department,
    KpiInfo,
    Taxonomy,
)
from alerts.zones import offset_ms, zone_of
from detectors.base import Detector
from detectors.registry import REGISTRY
from detectors.timeaxis import DAY_MS, HOUR_MS
from monitor.windows.aggregation import WindowConfig, metric_names

# the default taxonomy's metrics (a config knows its own: ``MonitorConfig.known_metrics``)
KNOWN_METRICS = frozenset(metric_names())


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowSettings(_Model):
    allowed_lateness_minutes: int = Field(default=120, ge=0, le=7 * 24 * 60)
    watermark_delay_minutes: int = Field(default=0, ge=0, le=24 * 60)
    # which inputs a region's hour waits for before it closes
    inputs: list[Literal["complaint", "kpi"]] = Field(
        default_factory=lambda: ["complaint", "kpi"], min_length=1
    )
    # live workers: an input silent this long (wall clock) stops holding hours open, and a
    # region silent on every input this long is closed as far as the stream has come (a
    # replayed file: a day of its own time, ``monitor.pipeline.REPLAY_IDLE_MS``)
    idle_input_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)
    # event times outside [earliest_event_time, the runner's clock + max_future_minutes]
    # are dead letters (bad_time): a device clock set to 2099 must not close a century. A
    # replay bounds them by its own newest event too (monitor/windows/stream_clock.py)
    earliest_event_time: datetime = datetime(2000, 1, 1, tzinfo=UTC)
    max_future_minutes: int = Field(default=24 * 60, ge=1, le=366 * 24 * 60)
    # a run of hours without any event longer than this is left without data instead of
    # being filled with zeros hour by hour
    max_empty_hours: int = Field(default=168, ge=1, le=24 * 366)
    # which regions get window state: only those named by region records ("reference": a
    # typo or an invented name cannot create a region), or any name that passes the schema
    # ("any", an open deployment); a hard cap either way, so memory stays bounded
    admit_regions: Literal["any", "reference"] = "reference"
    max_regions: int = Field(default=5000, ge=1, le=1_000_000)

    @field_validator("earliest_event_time")
    @classmethod
    def _with_offset(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("needs a UTC offset (e.g. 2000-01-01T00:00:00Z)")
        return value

    def to_window_config(self, live: bool = False) -> WindowConfig:
        return WindowConfig(
            allowed_lateness_ms=self.allowed_lateness_minutes * 60_000,
            watermark_delay_ms=self.watermark_delay_minutes * 60_000,
            inputs=tuple(self.inputs),
            idle_ms=self.idle_input_seconds * 1000 if live else None,
            earliest_ms=int(self.earliest_event_time.timestamp() * 1000),
            max_future_ms=self.max_future_minutes * 60_000,
            max_empty_hours=self.max_empty_hours,
            admit_regions=self.admit_regions,
            max_regions=self.max_regions,
        )


KPI_STAT_NAMES = "|".join(KPI_VALUE_STATS + KPI_COUNT_STATS)
METRIC_SHAPE = re.compile(
    r"^(complaints|complaint_rate)\.[a-z0-9][a-z0-9_]{0,47}$"
    rf"|^kpi\.[a-z0-9][a-z0-9_]{{0,47}}\.({KPI_STAT_NAMES})$"
)
METRIC_HELP = (
    f"`complaints.<category>`, `complaint_rate.<category>`, `kpi.<kpi>.<{KPI_STAT_NAMES}>`"
)


def did_you_mean(value: str, choices: Iterable[str]) -> str:
    """ "; did you mean 'complaints.broadband_lag'?" for a name one slip away from a known
    one (a typo in a config is the common case), else nothing."""
    # a slip is a character or two, whatever the length: a long name shares more with
    # every other (metric names share their family's prefix)
    cutoff = max(0.6, 1 - 2.5 / max(len(value), 1))
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=cutoff)
    return f"; did you mean {close[0]!r}?" if close else ""


def _metric_shape(value: str, info: ValidationInfo) -> str:
    """A metric name of the config's taxonomy (given as validation context by the loader;
    the config's semantic checks look again, with the taxonomy as validated)."""
    known = info.context.get("metrics") if isinstance(info.context, dict) else None
    if not METRIC_SHAPE.match(value):
        raise ValueError(
            f"unknown metric {value!r} (see {METRIC_HELP})" + did_you_mean(value, known or ())
        )
    if known is not None and value not in known:
        raise ValueError(
            f"unknown metric {value!r}: not in the taxonomy (see {METRIC_HELP})"
            + did_you_mean(value, known)
        )
    return value


MetricName = Annotated[str, AfterValidator(_metric_shape)]
TermName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_]{0,47}$")]


class CategorySettings(_Model):
    name: TermName
    group: TermName = "other"  # cause family: service_process, product_quality, ...
    department: Department = Department.SERVICE_COORDINATOR


class KpiSettings(_Model):
    name: TermName
    unit: str = Field(default="", max_length=32)
    min: float = 0.0
    max: float
    worse: Literal["higher", "lower"] = "higher"  # which direction is a degradation

    @model_validator(mode="after")
    def _ordered(self) -> KpiSettings:
        if not self.min < self.max:
            raise ValueError("min must be below max")
        return self


def _default_categories() -> list[CategorySettings]:
    return [
        CategorySettings(name=c.name, group=c.group, department=c.department)
        for c in DEFAULT_TAXONOMY.categories
    ]


def _default_kpis() -> list[KpiSettings]:
    return [
        KpiSettings(name=k.name, unit=k.unit, min=k.low, max=k.high, worse=k.worse)  # type: ignore[arg-type]
        for k in DEFAULT_TAXONOMY.kpis
    ]


class TaxonomySettings(_Model):
    """The operator's vocabulary (defaults: Yujing's): complaint categories with their
    cause family and department, channels, KPIs with unit, valid range and the direction
    that is worse. Validation, metric names, routing and metrics follow it."""

    categories: list[CategorySettings] = Field(
        default_factory=_default_categories, min_length=1, max_length=200
    )
    channels: list[TermName] = Field(
        default_factory=lambda: list(DEFAULT_TAXONOMY.channels), min_length=1, max_length=200
    )
    kpis: list[KpiSettings] = Field(default_factory=_default_kpis, min_length=1, max_length=200)

    @model_validator(mode="after")
    def _unique(self) -> TaxonomySettings:
        for what, names in (
            ("category", [c.name for c in self.categories]),
            ("channel", list(self.channels)),
            ("kpi", [k.name for k in self.kpis]),
        ):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise ValueError(f"{what} {', '.join(twice)} declared twice")
        if "total" in [c.name for c in self.categories]:
            raise ValueError("'total' is the sum of all categories, not a category")
        return self

    def build(self) -> Taxonomy:
        return Taxonomy(
            categories=tuple(CategoryInfo(c.name, c.group, c.department) for c in self.categories),
            channels=tuple(self.channels),
            kpis=tuple(KpiInfo(k.name, k.unit, k.min, k.max, k.worse) for k in self.kpis),
        )


RegionRef = Annotated[str, Field(pattern=r"^@?[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}$")]


class Override(_Model):
    """Other parameters (or severity) for some regions: names, or ``@group`` references."""

    regions: list[RegionRef] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)
    severity: Severity | None = None


class DetectorSpec(_Model):
    """One detector applied to one or more metrics, with its parameters and severity."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")
    detector: str
    metrics: list[MetricName] = Field(min_length=1)
    severity: Severity = Severity.MAJOR
    params: dict[str, Any] = Field(default_factory=dict)
    overrides: list[Override] = Field(default_factory=list)
    # what to do when it fires: a page of the operator's runbooks, linked from messages
    runbook: str | None = Field(default=None, pattern=r"^https?://\S+$", max_length=2000)

    @field_validator("detector")
    @classmethod
    def _known_detector(cls, value: str) -> str:
        if value not in REGISTRY:
            raise ValueError(
                f"unknown detector {value!r}; known: {', '.join(sorted(REGISTRY))}"
                + did_you_mean(value, REGISTRY)
            )
        return value

    def build(self, params: dict[str, Any] | None = None) -> Detector:
        cls = REGISTRY[self.detector]
        return cls(cls.config_model.model_validate({**self.params, **(params or {})}))

    @cached_property
    def instance(self) -> Detector:
        return self.build()

    @cached_property
    def override_instances(self) -> list[Detector]:
        return [self.build(o.params) for o in self.overrides]


class Mute(_Model):
    """A maintenance window: findings in it are suppressed (counted, not ticketed)."""

    regions: list[RegionRef] = Field(min_length=1)
    metrics: list[MetricName] | None = None  # None: every metric
    start: datetime
    end: datetime
    reason: str = Field(min_length=1, max_length=500)

    @model_validator(mode="after")
    def _ordered(self) -> Mute:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("start and end need a UTC offset (e.g. +08:00)")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self

    @property
    def start_ms(self) -> int:
        return int(self.start.timestamp() * 1000)

    @property
    def end_ms(self) -> int:
        return int(self.end.timestamp() * 1000)


TOPIC_ROLES = (
    "complaints",
    "kpis",
    "regions",
    "events",
    "hourly",
    "findings",
    "alerts",
    "deadletters",
)


class TopicSettings(_Model):
    """Partition count and retention of the monitor's Kafka topics."""

    partitions: int = Field(default=4, ge=1, le=1024)
    retention_hours: dict[str, int] = Field(default_factory=dict)

    @field_validator("retention_hours")
    @classmethod
    def _known_roles(cls, value: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(value) - set(TOPIC_ROLES))
        if unknown:
            raise ValueError(f"unknown topic(s) {unknown}; known: {', '.join(TOPIC_ROLES)}")
        bad = [k for k, v in value.items() if v < 1]
        if bad:
            raise ValueError(f"retention must be at least 1 hour: {bad}")
        return value


class RemoteWriteSettings(_Model):
    """How a Prometheus's remote-write series become KPI readings: which metric is which
    KPI, and which labels name the region and the site."""

    kpis: dict[Annotated[str, Field(min_length=1, max_length=200)], TermName] = Field(
        default_factory=dict, max_length=1000
    )  # Prometheus metric name -> KPI, e.g. site_packet_loss_percent: packet_loss
    region_label: str = Field(default="region", min_length=1, max_length=100)
    site_label: str = Field(default="instance", min_length=1, max_length=100)
    max_body_bytes: int = Field(default=10 * 2**20, ge=1024, le=2**30)  # compressed


# what a config without detector specs is told (every other section missing from a file
# takes Yujing's defaults; a file's ``detectors`` is its whole list)
NO_DETECTORS = (
    "no detector specs: nothing is judged (`detectors:` replaces the default's list; "
    "`yujing config default` prints it to copy)"
)


class MonitorConfig(_Model):
    """The whole config file: windows, topics, region groups, detector specs, mutes,
    alert policy and notifications. Frozen: a reload swaps in a new one."""

    # the operator's zone (+08:00 or Asia/Shanghai): times shown to people, the evening
    # peak, holidays; detection itself runs in UTC
    timezone: str = Field(default="+08:00", min_length=1, max_length=64)
    windows: WindowSettings = WindowSettings()
    topics: TopicSettings = TopicSettings()
    region_groups: dict[str, list[RegionRef]] = Field(default_factory=dict)
    detectors: list[DetectorSpec] = Field(default_factory=list)
    mutes: list[Mute] = Field(default_factory=list)
    # local dates whose hours are neither judged nor used as anyone's baseline: a holiday
    # week must not make the normal week after it look like a rise
    holidays: list[date] = Field(default_factory=list, max_length=2000)
    alerts: AlertSettings = AlertSettings()
    notifications: NotificationSettings = NotificationSettings()
    remote_write: RemoteWriteSettings = RemoteWriteSettings()
    taxonomy: TaxonomySettings = TaxonomySettings()

    @cached_property
    def vocabulary(self) -> Taxonomy:
        """The taxonomy as the pipeline uses it (``taxonomy`` is its config form)."""
        return self.taxonomy.build()

    @cached_property
    def known_metrics(self) -> frozenset[str]:
        return frozenset(metric_names(self.vocabulary))

    def routing_table(self) -> dict[str, str]:
        """Category -> department: the taxonomy's, with ``alerts.routing`` on top."""
        table = {k: v.value for k, v in self.vocabulary.routing().items()}
        return table | {k: v.value for k, v in self.alerts.routing.items()}

    def holiday_columns(self, end_hour: int, hours: int) -> np.ndarray | None:
        """Which of the ``hours`` columns ending at ``end_hour`` fall on a listed holiday
        (the config's local time); None when none do."""
        if not self.holidays:
            return None
        starts = end_hour - np.arange(hours - 1, -1, -1, dtype=np.int64) * HOUR_MS
        local_days = (starts + self.offsets_ms(starts)) // DAY_MS
        listed = np.array([(d - date(1970, 1, 1)).days for d in self.holidays], dtype=np.int64)
        mask = np.isin(local_days, listed)
        return mask if mask.any() else None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        zone_of(value)
        return value

    @model_validator(mode="after")
    def _routing_from_the_taxonomy(self) -> MonitorConfig:
        """Each category goes to its taxonomy's department unless ``alerts.routing`` says
        otherwise: the policy then reads one complete table."""
        table = self.routing_table()
        if table != {k: v.value for k, v in self.alerts.routing.items()}:
            routed = self.alerts.model_copy(
                update={"routing": {k: Department(v) for k, v in table.items()}}
            )
            object.__setattr__(self, "alerts", routed)  # frozen: set once, here
        return self

    @model_validator(mode="after")
    def _messages_in_the_zone(self) -> MonitorConfig:
        """The zone, the specs' runbooks and the KPIs' units are stated once (at the top,
        in each spec, in the taxonomy); the notifications carry them."""
        facts = {
            "timezone": self.timezone,
            "runbooks": {spec.id: spec.runbook for spec in self.detectors if spec.runbook},
            "units": {k.name: k.unit for k in self.vocabulary.kpis},
        }
        if any(getattr(self.notifications, k) != v for k, v in facts.items()):
            told = self.notifications.model_copy(update=facts)
            object.__setattr__(self, "notifications", told)  # frozen: set once, here
        return self

    @cached_property
    def zone(self) -> tzinfo:
        return zone_of(self.timezone)

    def offsets_ms(self, hours: np.ndarray) -> np.ndarray:
        """The zone's offset from UTC at each of the given epoch-ms times."""
        if isinstance(self.zone, timezone):  # a fixed offset: one for all
            return np.full(hours.shape, offset_ms(self.zone, 0), dtype=np.int64)
        return np.array([offset_ms(self.zone, int(t)) for t in hours], dtype=np.int64)

    def mute_mask(
        self, excluded: np.ndarray, regions: list[str], metric: str, end_hour: int
    ) -> np.ndarray:
        """``excluded`` (the window of ``regions`` x hours ending at ``end_hour``) with the
        muted hours of ``metric`` set: a maintenance window is nobody's baseline. A copy
        when a mute applies: ``excluded`` may be the store's own flags (read-only)."""
        hours = excluded.shape[1]
        copied = False
        first = end_hour - (hours - 1) * HOUR_MS
        for mute in self.mutes:
            if mute.metrics is not None and metric not in mute.metrics:
                continue
            lo = max(0, -(-(mute.start_ms - first) // HOUR_MS))
            hi = min(hours, -(-(mute.end_ms - first) // HOUR_MS))
            if hi <= lo:
                continue
            members = self.expand(mute.regions)
            rows = [i for i, region in enumerate(regions) if region in members]
            if not copied:
                excluded, copied = excluded.copy(), True
            excluded[np.ix_(rows, np.arange(lo, hi))] = True
        return excluded

    def expand(self, refs: list[str]) -> set[str]:
        """Region names behind a list of names and ``@group`` references."""
        out: set[str] = set()
        for ref in refs:
            if ref.startswith("@"):
                out.update(self.expand(self.region_groups.get(ref[1:], [])))
            else:
                out.add(ref)
        return out

    def detector_for(self, spec_id: str, region: str) -> Detector | None:
        """The detector that judges ``region`` under spec ``spec_id``: its first override
        naming the region, else the spec's own; None for a spec this config lacks (a
        ticket of an older config). What a ticket's reader is shown of it (the other
        signal a two-signal detector read) must be what judged it."""
        spec = next((s for s in self.detectors if s.id == spec_id), None)
        if spec is None:
            return None
        for override, detector in zip(spec.overrides, spec.override_instances, strict=True):
            if region in self.expand(override.regions):
                return detector
        return spec.instance

    def muted(self, region: str, metric: str, hour: int) -> Mute | None:
        for mute in self.mutes:
            if (
                mute.start_ms <= hour < mute.end_ms
                and region in self.expand(mute.regions)
                and (mute.metrics is None or metric in mute.metrics)
            ):
                return mute
        return None

    @model_validator(mode="after")
    def _unique_ids(self) -> MonitorConfig:
        seen: set[str] = set()
        for spec in self.detectors:
            if spec.id in seen:
                raise ValueError(f"duplicate detector id {spec.id!r}")
            seen.add(spec.id)
        return self

    def metrics_needed(self) -> list[str]:
        names = {m for spec in self.detectors for m in spec.metrics}
        for spec in self.detectors:
            for detector in (spec.instance, *spec.override_instances):
                names.update(detector.context_metrics())
        return sorted(names)
