"""What a ticket tells the outside world: the one list of its public fields."""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import orjson
from typing_extensions import TypedDict  # pydantic reads its fields on Python < 3.12

from alerts.tickets.models import Ticket
from detectors.base import Signal
from detectors.timeaxis import to_iso

TIME_FIELDS = frozenset(
    {
        "first_hour",
        "last_fired_hour",
        "opened_at",
        "acknowledge_by",
        "feedback_by",
        "resolve_by",
        "recovered_at",
        "window_start",
        "observed_hour",
        "first_feedback_at",
    }
)
JSON_NAMES = {
    "id": "ticket_id",
    "key": "ticket_key",
    "limit_value": "limit",
}  # unambiguous beside other ids


MAX_SITES, MAX_SITE_CHARS = 5, 300


def encode_sites(sites: tuple[str, ...]) -> str | None:
    """The column's text: a JSON list (a few, each of bounded length), or nothing."""
    kept = [s[:MAX_SITE_CHARS] for s in sites[:MAX_SITES]]
    return orjson.dumps(kept).decode() if kept else None


def decode_sites(text: str | None) -> tuple[str, ...]:
    """A stored list (a cut or unreadable one: none)."""
    try:
        sites = orjson.loads(text) if text else []
    except orjson.JSONDecodeError:
        return ()
    return tuple(str(s) for s in sites) if isinstance(sites, list) else ()


class SignalJson(TypedDict):
    """A two-signal detector's other series, as a ticket shows it (``Signal``)."""

    metric: str
    observed: float
    baseline: float | None
    limit: float | None


MAX_METRIC_CHARS = 96  # the tickets' metric column


def encode_signal(signal: Signal | None) -> str | None:
    """The column's text: a JSON object, or nothing."""
    return None if signal is None else orjson.dumps(signal.to_json()).decode()


def decode_signal(text: str | None) -> SignalJson | None:
    """A stored signal (an unreadable or malformed one: none)."""
    try:
        data = orjson.loads(text) if text else None
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None

    def number(name: str) -> float | None:
        value = data.get(name)
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        return float(value) if ok and math.isfinite(value) else None

    metric, observed = data.get("metric"), number("observed")
    if not isinstance(metric, str) or observed is None:
        return None
    return SignalJson(
        metric=metric[:MAX_METRIC_CHARS],
        observed=observed,
        baseline=number("baseline"),
        limit=number("limit"),
    )


@dataclass(frozen=True, slots=True)
class TicketView:
    """A detached, read-only copy of a ticket: the one list of a ticket's public fields,
    which the API's schema, notifications and the outbox payload all derive from."""

    id: int
    key: str
    fingerprint: str
    region: str
    metric: str
    detector: str
    department: str
    severity: str
    state: str
    title: str
    explanation: str
    observed: float
    baseline: float
    change_pct: float | None
    p_value: float | None
    first_hour: int
    last_fired_hour: int
    occurrences: int
    opened_at: int
    acknowledge_by: int
    feedback_by: int
    resolve_by: int
    recovered_at: int | None
    owner: str | None = None
    escalation_level: int = 0
    limit_value: float | None = None  # a threshold's fixed line, apart from the baseline
    spec_id: str = ""  # the detector spec that opened it (its runbook, its parameters)
    window_start: int | None = None  # the first hour its latest finding judged
    observed_hour: int | None = None  # the hour its figures are of (None: from before)
    observed_by: str | None = None  # the detector they are from (None: from before)
    sites: tuple[str, ...] = ()  # to inspect first: "site (kpi now, usually x)"
    signal: SignalJson | None = None  # a two-signal detector's other series
    outcome: str | None = None  # once resolved: confirmed_fault, false_alarm, ...
    cause: str | None = None  # a confirmed fault's
    first_feedback_at: int | None = None  # the owner's first word (stops the 24 h clock)

    @classmethod
    def of(cls, t: Ticket) -> TicketView:
        values = {f.name: getattr(t, f.name) for f in fields(cls)}
        decoded = {
            "sites": decode_sites(values["sites"]),
            "signal": decode_signal(values["signal"]),
        }
        return cls(**values | decoded)

    def to_json(self) -> dict[str, object]:
        """The ticket as notifications, files and the outbox carry it: every field once,
        times as ISO 8601 with an ``_ms`` twin in epoch milliseconds."""
        out: dict[str, object] = {}
        for f in fields(self):
            name = JSON_NAMES.get(f.name, f.name)
            value = getattr(self, f.name)
            if f.name in TIME_FIELDS:
                out[name] = None if value is None else to_iso(value)
                out[f"{name}_ms"] = value
            else:
                out[name] = value
        return out
