"""The alert policy's settings (the config's ``alerts:`` section), owned by the policy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from alerts.findings import Severity
from alerts.outcomes import Outcome
from alerts.sla import MINUTE_MS, SlaPolicy
from alerts.taxonomy import Department
from detectors.timeaxis import HOUR_MS


class SlaClocks(BaseModel):
    """One severity's clocks; unset ones keep the service policy's (15 min, 24 h, 72 h)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    acknowledge_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)
    feedback_hours: int | None = Field(default=None, ge=1, le=24 * 30)
    resolve_hours: int | None = Field(default=None, ge=1, le=24 * 90)

    def policy(self) -> SlaPolicy:
        base = SlaPolicy()
        return SlaPolicy(
            acknowledge_ms=base.acknowledge_ms
            if self.acknowledge_minutes is None
            else self.acknowledge_minutes * MINUTE_MS,
            feedback_ms=base.feedback_ms
            if self.feedback_hours is None
            else self.feedback_hours * HOUR_MS,
            resolve_ms=base.resolve_ms
            if self.resolve_hours is None
            else self.resolve_hours * HOUR_MS,
        )


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clear_after_hours: int = Field(default=12, ge=1, le=24 * 14)
    cooldown_hours: int = Field(default=24, ge=0, le=24 * 30)
    auto_resolve: bool = False
    # what an automatically resolved ticket is recorded as (a person resolving says it)
    auto_resolve_outcome: Outcome = Outcome.NO_ACTION_NEEDED
    # category (or "kpi", "total") -> department; unlisted keys follow the taxonomy's
    # departments (the config checks the keys against its taxonomy)
    routing: dict[str, Department] = Field(default_factory=dict)
    # per severity, e.g. {minor: {acknowledge_minutes: 60}}; unlisted: the service policy
    sla: dict[Severity, SlaClocks] = Field(default_factory=dict)

    def sla_policies(self) -> dict[str, SlaPolicy]:
        return {severity.value: clocks.policy() for severity, clocks in self.sla.items()}

    @property
    def clear_after_ms(self) -> int:
        return self.clear_after_hours * HOUR_MS

    @property
    def cooldown_ms(self) -> int:
        return self.cooldown_hours * HOUR_MS
