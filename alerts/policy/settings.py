"""The alert policy's settings (the config's ``alerts:`` section), owned by the policy."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from alerts.taxonomy import ROUTING_KEYS, Department
from detectors.timeaxis import HOUR_MS


class AlertSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    clear_after_hours: int = Field(default=12, ge=1, le=24 * 14)
    cooldown_hours: int = Field(default=24, ge=0, le=24 * 30)
    auto_resolve: bool = False
    # category (or "kpi", "total") -> department; unlisted keys follow the service policy
    routing: dict[str, Department] = Field(default_factory=dict)

    @field_validator("routing")
    @classmethod
    def _known_keys(cls, value: dict[str, Department]) -> dict[str, Department]:
        unknown = sorted(set(value) - ROUTING_KEYS)
        if unknown:
            raise ValueError(f"unknown routing key(s) {unknown}; use a category, 'kpi' or 'total'")
        return value

    @property
    def clear_after_ms(self) -> int:
        return self.clear_after_hours * HOUR_MS

    @property
    def cooldown_ms(self) -> int:
        return self.cooldown_hours * HOUR_MS
