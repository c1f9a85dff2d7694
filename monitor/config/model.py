"""Pipeline configuration: windows, detector specs and alert policy, validated by pydantic.

The YAML file is the engineers' interface; the models here say what is allowed, so a typo
in a metric or a parameter is an error at load time, never a detector that silently
watches nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from alerts.findings import Severity
from alerts.notify.settings import NotificationSettings
from alerts.policy.settings import AlertSettings
from detectors import REGISTRY
from detectors.base import Detector
from monitor.windows.aggregation import WindowConfig, metric_names

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
    # live workers: an input silent this long (wall clock) stops holding hours open
    idle_input_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)

    def to_window_config(self, live: bool = False) -> WindowConfig:
        return WindowConfig(
            allowed_lateness_ms=self.allowed_lateness_minutes * 60_000,
            watermark_delay_ms=self.watermark_delay_minutes * 60_000,
            inputs=tuple(self.inputs),
            idle_ms=self.idle_input_seconds * 1000 if live else None,
        )


def _known_metric(value: str) -> str:
    if value not in KNOWN_METRICS:
        raise ValueError(
            f"unknown metric {value!r} (see `complaints.<category>`, "
            f"`complaint_rate.<category>`, `kpi.<kpi>.<mean|max|p95>`)"
        )
    return value


MetricName = Annotated[str, AfterValidator(_known_metric)]
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

    @field_validator("detector")
    @classmethod
    def _known_detector(cls, value: str) -> str:
        if value not in REGISTRY:
            raise ValueError(f"unknown detector {value!r}; known: {', '.join(sorted(REGISTRY))}")
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


class MonitorConfig(_Model):
    timezone_offset_hours: int = Field(default=8, ge=-12, le=14)
    windows: WindowSettings = WindowSettings()
    topics: TopicSettings = TopicSettings()
    region_groups: dict[str, list[RegionRef]] = Field(default_factory=dict)
    detectors: list[DetectorSpec] = Field(default_factory=list)
    mutes: list[Mute] = Field(default_factory=list)
    alerts: AlertSettings = AlertSettings()
    notifications: NotificationSettings = NotificationSettings()

    def expand(self, refs: list[str]) -> set[str]:
        """Region names behind a list of names and ``@group`` references."""
        out: set[str] = set()
        for ref in refs:
            if ref.startswith("@"):
                out.update(self.expand(self.region_groups.get(ref[1:], [])))
            else:
                out.add(ref)
        return out

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


Loc = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a config: where (line, field path) and why."""

    line: int | None
    path: str
    message: str

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        return f"{where}: {self.path}: {self.message}"


class ConfigError(Exception):
    """A config that cannot be used, with the file, the lines and the fields at fault."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.render(source) for p in problems))

    @property
    def messages(self) -> list[str]:
        return [p.render(self.source) for p in self.problems]


def _path(loc: Loc) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "<root>"


def _line_of(root: yaml.Node | None, loc: Loc) -> int | None:
    """The YAML line of the deepest node on ``loc`` that the file has."""
    if root is None:
        return None
    node: yaml.Node = root
    line = node.start_mark.line + 1
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if str(key.value) == str(part):
                    node, line = value, key.start_mark.line + 1
                    break
            else:
                tags = [v.value for k, v in node.value if k.value == "type"]
                if tags == [part]:  # pydantic's discriminator tag, not a key of the file
                    continue
                break
        elif (
            isinstance(node, yaml.SequenceNode)
            and isinstance(part, int)
            and 0 <= part < len(node.value)
        ):
            node = node.value[part]
            line = node.start_mark.line + 1
        else:
            break
    return line


def _semantic_problems(config: MonitorConfig) -> list[tuple[Loc, str]]:
    """What a schema cannot say: parameters per detector, overlaps, unknown groups."""
    problems: list[tuple[Loc, str]] = []
    defined = config.notifications.channels
    for i, route in enumerate(config.notifications.routes):
        for j, channel in enumerate(route.channels):
            if channel not in defined:
                problems.append(
                    (
                        ("notifications", "routes", i, "channels", j),
                        f"unknown channel {channel!r}; defined: "
                        f"{', '.join(sorted(defined)) or 'none'}",
                    )
                )
    for name, members in config.region_groups.items():
        for k, ref in enumerate(members):
            if ref.startswith("@"):
                problems.append((("region_groups", name, k), "groups cannot nest"))
    for i, spec in enumerate(config.detectors):
        cls = REGISTRY[spec.detector]
        base: dict[str, Any] = spec.params
        for loc_prefix, params, own in [(("detectors", i, "params"), base, None)] + [
            (("detectors", i, "overrides", j, "params"), {**base, **o.params}, o.params)
            for j, o in enumerate(spec.overrides)
        ]:
            try:
                detector = cls(cls.config_model.model_validate(params))
            except ValidationError as exc:
                for e in exc.errors(include_url=False):
                    if own is not None and e["loc"] and e["loc"][0] not in own:
                        continue  # inherited from the spec: reported there once
                    problems.append(((*loc_prefix, *e["loc"]), e["msg"]))
                continue
            for metric in detector.context_metrics():  # the other signals it reads
                if metric in KNOWN_METRICS:
                    continue
                named_by = [
                    k for k, v in (own if own is not None else params).items() if v == metric
                ]
                if own is not None and not named_by:
                    continue  # inherited from the spec: reported there once
                problems.append(((*loc_prefix, *named_by[:1]), f"unknown metric {metric!r}"))
        covered: dict[str, int] = {}
        for j, override in enumerate(spec.overrides):
            for k, ref in enumerate(override.regions):
                if ref.startswith("@") and ref[1:] not in config.region_groups:
                    problems.append(
                        (
                            ("detectors", i, "overrides", j, "regions", k),
                            f"unknown region group {ref[1:]!r}",
                        )
                    )
            for region in sorted(config.expand(override.regions)):
                if region in covered:
                    problems.append(
                        (
                            ("detectors", i, "overrides", j, "regions"),
                            f"overlaps override {covered[region]} on region "
                            f"{region!r}: which parameters apply is ambiguous",
                        )
                    )
                    break
                covered[region] = j
    seen_pairs: dict[tuple[str, str], str] = {}
    for i, spec in enumerate(config.detectors):
        for k, metric in enumerate(spec.metrics):
            pair = (spec.detector, metric)
            if pair in seen_pairs:
                problems.append(
                    (
                        ("detectors", i, "metrics", k),
                        f"{spec.detector} on {metric} is already configured by "
                        f"{seen_pairs[pair]!r} (same fingerprint, two rules)",
                    )
                )
            seen_pairs[pair] = spec.id
    for m, mute in enumerate(config.mutes):
        for k, ref in enumerate(mute.regions):
            if ref.startswith("@") and ref[1:] not in config.region_groups:
                problems.append((("mutes", m, "regions", k), f"unknown region group {ref[1:]!r}"))
    return problems


def parse_config(text: str, source: str = "<config>") -> MonitorConfig:
    """Validate a YAML config; every problem comes with its line and field path."""
    try:
        root = yaml.compose(text)
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(
            source, [Problem(line, "<yaml>", f"not valid YAML: {getattr(exc, 'problem', exc)}")]
        ) from exc
    if not isinstance(data, dict):
        raise ConfigError(source, [Problem(1, "<root>", "expected a mapping of settings")])
    try:
        config = MonitorConfig.model_validate(data)
    except ValidationError as exc:
        problems = [
            Problem(_line_of(root, tuple(e["loc"])), _path(tuple(e["loc"])), e["msg"])
            for e in exc.errors(include_url=False)
        ]
        raise ConfigError(source, problems) from exc
    semantic = _semantic_problems(config)
    if semantic:
        raise ConfigError(
            source, [Problem(_line_of(root, loc), _path(loc), msg) for loc, msg in semantic]
        )
    return config


def load_config(path: Path | None = None) -> MonitorConfig:
    """Load a YAML config, or the packaged default when no path is given."""
    if path is None:
        text = resources.files("monitor.config").joinpath("default_config.yaml").read_text("utf-8")
        return parse_config(text, "default_config.yaml")
    try:
        text = path.read_text("utf-8")
    except OSError as exc:
        raise ConfigError(str(path), [Problem(None, "<file>", str(exc))]) from exc
    return parse_config(text, str(path))
