"""Service-level clocks from the operator's policy, as pure arithmetic on epoch ms."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MINUTE_MS = 60_000
# the service policy's three clocks, in the order a ticket meets them
CLOCKS = ("acknowledge", "feedback", "resolve")


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


def running_clocks(
    state: str,
    acknowledge_by: int,
    feedback_by: int,
    first_feedback_at: int | None,
    resolve_by: int,
) -> list[tuple[str, int]]:
    """(clock, due) for every SLA clock still running on an active ticket, in the order
    it meets them: acknowledge while nobody has, feedback until the owner's first, resolve.
    The first is what the people on the ticket must do next."""
    clocks = (
        ("acknowledge", acknowledge_by, state == "open"),
        ("feedback", feedback_by, first_feedback_at is None),
        ("resolve", resolve_by, True),
    )
    return [(clock, due) for clock, due, running in clocks if running]


def breached_clocks(
    now: int,
    state: str,
    acknowledge_by: int,
    feedback_by: int,
    first_feedback_at: int | None,
    resolve_by: int,
) -> list[tuple[str, int]]:
    """(clock, due) for every SLA clock of an active ticket that is past due and still
    running."""
    running = running_clocks(state, acknowledge_by, feedback_by, first_feedback_at, resolve_by)
    return [(clock, due) for clock, due in running if now >= due]


def resolved_at(events: Sequence[Mapping[str, Any]]) -> int | None:
    """When the loop was closed (from a ticket's audit): the first resolution, by a person
    or automatically."""
    return next(
        (
            int(e["at"])
            for e in events
            if e["action"] == "resolve" or (e["action"] == "recovered" and e["to"] == "resolved")
        ),
        None,
    )


def acknowledged_at(events: Sequence[Mapping[str, Any]]) -> int | None:
    """When the first responder answered (from a ticket's audit)."""
    return next((int(e["at"]) for e in events if e["action"] == "acknowledge"), None)


def late_text(late_ms: int) -> str:
    """How late a clock was met, as a person says it: "17 min", "5.5 h", "3.2 d"."""
    minutes = late_ms / MINUTE_MS
    if minutes < 90:
        return f"{minutes:.0f} min"
    return f"{minutes / 60:,.1f} h" if minutes < 72 * 60 else f"{minutes / 1440:,.1f} d"
