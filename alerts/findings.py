"""What the alert layer takes in: findings with the spec's severity, grouped by judged hour.

The detection tick (monitor) produces these and the alert policy consumes them; they live
here, below both, so that neither has to import the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from detectors.base import Finding


class Severity(StrEnum):
    """How urgent a spec's findings are; notification routes and SLA clocks key on it."""

    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    WARNING = "warning"

    @property
    def rank(self) -> int:
        """Higher is more urgent: a ticket takes the most urgent of its findings."""
        return (Severity.WARNING, Severity.MINOR, Severity.MAJOR, Severity.CRITICAL).index(self)


@dataclass(frozen=True, slots=True)
class SpecFinding:
    """A finding together with the spec that produced it (severity, spec id)."""

    spec_id: str
    severity: Severity
    finding: Finding


@dataclass(frozen=True, slots=True)
class TickResult:
    """Everything one detection tick found at one hour."""

    hour: int
    regions: frozenset[str]  # every series of these regions was judged this tick
    findings: list[SpecFinding]
    # spec id -> why -> series it could not judge (too few known hours for its detector):
    # "no data" (nothing known in its window), "history" (it began too recently), "gaps"
    unjudged: dict[str, dict[str, int]] = field(default_factory=dict)

    def of_regions(self, regions: set[str] | frozenset[str]) -> TickResult:
        """This hour as judged for ``regions`` alone (a scan judged more of them)."""
        if self.regions <= regions:
            return self
        return TickResult(
            hour=self.hour,
            regions=self.regions & frozenset(regions),
            findings=[sf for sf in self.findings if sf.finding.region in regions],
            unjudged=self.unjudged,
        )
