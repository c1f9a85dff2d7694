"""Service-level clocks from the operator's policy, as pure arithmetic on epoch ms."""

from __future__ import annotations

from dataclasses import dataclass

MINUTE_MS = 60_000


@dataclass(frozen=True)
class SlaPolicy:
    """Respond within 15 minutes, first feedback within 24 hours, closed loop within 72."""

    acknowledge_ms: int = 15 * MINUTE_MS
    feedback_ms: int = 24 * 60 * MINUTE_MS
    resolve_ms: int = 72 * 60 * MINUTE_MS


@dataclass(frozen=True, slots=True)
class SlaDue:
    acknowledge_by: int
    feedback_by: int
    resolve_by: int


def due_times(opened_at: int, policy: SlaPolicy | None = None) -> SlaDue:
    policy = policy or SlaPolicy()
    return SlaDue(
        acknowledge_by=opened_at + policy.acknowledge_ms,
        feedback_by=opened_at + policy.feedback_ms,
        resolve_by=opened_at + policy.resolve_ms,
    )
