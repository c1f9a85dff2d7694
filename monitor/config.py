"""Pipeline configuration: windows, detector specs and alert policy, validated by pydantic.

The YAML file is the engineers' interface; the models here say what is allowed, so a typo
in a metric or a parameter is an error at load time, never a detector that silently
watches nothing.
"""

from __future__ import annotations

from enum import StrEnum
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from detectors import REGISTRY
from monitor.aggregation import CATEGORIES, KPIS, WindowConfig
from monitor.windows import HOUR_MS


def known_metrics() -> set[str]:
    names = {"complaints.total", "complaint_rate.total"}
    for category in CATEGORIES:
        names.add(f"complaints.{category.value}")
        names.add(f"complaint_rate.{category.value}")
    for kpi in KPIS:
        for stat in ("mean", "max", "p95"):
            names.add(f"kpi.{kpi.value}.{stat}")
    return names


KNOWN_METRICS = frozenset(known_metrics())


class Severity(StrEnum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class WindowSettings(_Model):
    allowed_lateness_minutes: int = Field(default=120, ge=0, le=7 * 24 * 60)
    watermark_delay_minutes: int = Field(default=0, ge=0, le=24 * 60)
    # which inputs a region's hour waits for before it closes
    inputs: list[Literal["complaint", "kpi"]] = Field(default_factory=lambda: ["complaint", "kpi"],
                                                      min_length=1)
    # live workers: an input silent this long (wall clock) stops holding hours open
    idle_input_seconds: int = Field(default=300, ge=1, le=7 * 24 * 3600)

    def to_window_config(self, live: bool = False) -> WindowConfig:
        return WindowConfig(allowed_lateness_ms=self.allowed_lateness_minutes * 60_000,
                            watermark_delay_ms=self.watermark_delay_minutes * 60_000,
                            inputs=tuple(self.inputs),
                            idle_ms=self.idle_input_seconds * 1000 if live else None)


class DetectorSpec(_Model):
    """One detector applied to one or more metrics, with its parameters and severity."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_\-]{0,63}$")
    detector: str
    metrics: list[str] = Field(min_length=1)
    severity: Severity = Severity.MAJOR
    params: dict[str, Any] = Field(default_factory=dict)

    @field_validator("detector")
    @classmethod
    def _known_detector(cls, value: str) -> str:
        if value not in REGISTRY:
            raise ValueError(f"unknown detector {value!r}; known: {', '.join(sorted(REGISTRY))}")
        return value

    @field_validator("metrics")
    @classmethod
    def _known_metrics(cls, value: list[str]) -> list[str]:
        unknown = [m for m in value if m not in KNOWN_METRICS]
        if unknown:
            raise ValueError(f"unknown metric(s) {', '.join(map(repr, unknown))}")
        return value

    @model_validator(mode="after")
    def _valid_params(self) -> DetectorSpec:
        REGISTRY[self.detector].config_model.model_validate(self.params)
        return self

    @cached_property
    def instance(self) -> Any:
        cls = REGISTRY[self.detector]
        return cls(cls.config_model.model_validate(self.params))


class AlertSettings(_Model):
    clear_after_hours: int = Field(default=12, ge=1, le=24 * 14)
    cooldown_hours: int = Field(default=24, ge=0, le=24 * 30)
    auto_resolve: bool = False

    @property
    def clear_after_ms(self) -> int:
        return self.clear_after_hours * HOUR_MS

    @property
    def cooldown_ms(self) -> int:
        return self.cooldown_hours * HOUR_MS


TOPIC_ROLES = ("complaints", "kpis", "regions", "events", "hourly", "findings", "alerts",
               "deadletters")


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
    detectors: list[DetectorSpec] = Field(default_factory=list)
    alerts: AlertSettings = AlertSettings()

    @model_validator(mode="after")
    def _unique_ids(self) -> MonitorConfig:
        seen: set[str] = set()
        for spec in self.detectors:
            if spec.id in seen:
                raise ValueError(f"duplicate detector id {spec.id!r}")
            seen.add(spec.id)
        return self

    def metrics_needed(self) -> list[str]:
        return sorted({m for spec in self.detectors for m in spec.metrics})


class ConfigError(Exception):
    """A config that cannot be used, with the file and the fields at fault."""

    def __init__(self, source: str, problems: list[str]) -> None:
        super().__init__(f"{source}: " + "; ".join(problems))
        self.source = source
        self.problems = problems


def parse_config(text: str, source: str = "<config>") -> MonitorConfig:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise ConfigError(source, [f"not valid YAML: {exc}"]) from exc
    try:
        return MonitorConfig.model_validate(data)
    except ValidationError as exc:
        problems = [f"{'.'.join(map(str, e['loc'])) or '<root>'}: {e['msg']}"
                    for e in exc.errors(include_url=False)]
        raise ConfigError(source, problems) from exc


def load_config(path: Path | None = None) -> MonitorConfig:
    """Load a YAML config, or the packaged default when no path is given."""
    if path is None:
        text = resources.files("monitor").joinpath("default_config.yaml").read_text("utf-8")
        return parse_config(text, "default_config.yaml")
    return parse_config(path.read_text("utf-8"), str(path))
