"""Detection tick: run every configured detector over every series at one closed hour."""

from __future__ import annotations

from dataclasses import dataclass

from detectors.base import Finding
from monitor.config import DetectorSpec, MonitorConfig, Severity
from monitor.series import SeriesStore


@dataclass(frozen=True, slots=True)
class SpecFinding:
    """A finding together with the spec that produced it (severity, spec id)."""

    spec_id: str
    severity: Severity
    finding: Finding


@dataclass(frozen=True, slots=True)
class TickResult:
    hour: int
    regions: frozenset[str]  # every series of these regions was judged this tick
    findings: list[SpecFinding]


def evaluate_spec(spec: DetectorSpec, store: SeriesStore, hour: int,
                  regions: list[str] | None = None) -> list[Finding]:
    detector = spec.instance
    out: list[Finding] = []
    for metric in spec.metrics:
        window = store.window(metric, hour, detector.history_hours(), regions)
        out.extend(detector.evaluate(window))
    return out


def tick(config: MonitorConfig, store: SeriesStore, hour: int,
         regions: set[str] | None = None) -> TickResult:
    """Judge ``hour`` for ``regions`` (default: all the store knows); reads the store only."""
    judged = sorted(regions) if regions is not None else list(store.regions)
    findings: list[SpecFinding] = []
    for spec in config.detectors:
        for finding in evaluate_spec(spec, store, hour, judged):
            findings.append(SpecFinding(spec.id, spec.severity, finding))
    return TickResult(hour=hour, regions=frozenset(judged), findings=findings)
