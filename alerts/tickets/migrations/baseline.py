"""Columns of revision 0001, to recognise a database made before migrations existed."""

from __future__ import annotations

BASELINE_COLUMNS: dict[str, tuple[str, ...]] = {
    "tickets": (
        "id", "key", "fingerprint", "active_fingerprint", "region", "metric", "detector",
        "spec_id", "category", "department", "severity", "state", "title", "explanation",
        "observed", "baseline", "change_pct", "p_value", "first_hour", "last_fired_hour",
        "occurrences", "opened_at", "updated_at", "acknowledge_by", "feedback_by",
        "resolve_by", "recovered_at", "owner", "escalation_level", "first_feedback_at",
        "escalated",
    ),
    "ticket_events": ("id", "ticket_id", "at", "actor", "action", "from_state", "to_state",
                      "comment"),
}
