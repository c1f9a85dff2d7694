"""What a resolved ticket turned out to be: the record that tells how good the alerts were.

A person resolving a ticket says whether it was a real fault (and its cause), a false
alarm, a duplicate of another ticket, or needed no action. The monthly review counts them
(precision per detector spec) and ``backtest --labels`` learns from them.
"""

from __future__ import annotations

from enum import StrEnum


class Outcome(StrEnum):
    CONFIRMED_FAULT = "confirmed_fault"
    FALSE_ALARM = "false_alarm"
    DUPLICATE = "duplicate"
    NO_ACTION_NEEDED = "no_action_needed"


class Cause(StrEnum):
    """A confirmed fault's cause, as the network, billing and field teams name them."""

    SITE_HARDWARE = "site_hardware"
    CAPACITY = "capacity"
    TRANSMISSION = "transmission"
    BILLING_RUN = "billing_run"
    FIELD_SERVICE_BACKLOG = "field_service_backlog"
    OTHER = "other"


OUTCOMES = ", ".join(o.value for o in Outcome)
CAUSES = ", ".join(c.value for c in Cause)


def outcome_problem(outcome: str | None, cause: str | None) -> str | None:
    """Why a resolution's outcome cannot be recorded as given; None when it can."""
    if outcome is None:
        return f"resolving needs an outcome: one of {OUTCOMES}"
    if outcome not in Outcome.__members__.values():
        return f"unknown outcome {outcome!r}: one of {OUTCOMES}"
    if outcome == Outcome.CONFIRMED_FAULT and cause is None:
        return f"a confirmed fault needs its cause: one of {CAUSES}"
    if cause is not None and cause not in Cause.__members__.values():
        return f"unknown cause {cause!r}: one of {CAUSES}"
    if cause is not None and outcome != Outcome.CONFIRMED_FAULT:
        return f"a cause belongs to a confirmed fault, not to {outcome}"
    return None


def said(outcome: str | None, cause: str | None) -> str:
    """The outcome as the audit trail and messages show it: "confirmed_fault (capacity)"."""
    if outcome is None:
        return ""
    return f"{outcome} ({cause})" if cause else outcome
