"""The monthly review's figures, from the tickets and their audit trails: computed by a pure
function (``monthly_review``) and read from a ticket store by ``review_of``.

The service policy's complaint review meets once a month: were the clocks kept (respond
in 15 minutes, first feedback in 24 hours, closed loop in 72), where do problems recur,
and how good were the alerts. Every figure here is computed once, from tickets first
fired in the month; the HTML report, the API's JSON and the tests read the same dict.
A clock is *met* when its step happened by its due time, *breached* when it happened
late or is still not done past due, *running* when it is not done and not yet due.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise
from typing import Any

import numpy as np

from alerts.outcomes import Outcome
from alerts.sla import CLOCKS, MINUTE_MS, acknowledged_at, resolved_at
from alerts.tickets.store import TicketStore
from alerts.tickets.view import TicketView
from alerts.tickets.volume import Count
from alerts.zones import month_span
from detectors.timeaxis import HOUR_MS, WEEK_HOURS, to_iso


@dataclass(frozen=True, slots=True)
class ClockCheck:
    ticket_id: int
    clock: str
    due: int
    done_at: int | None

    def state(self, now: int) -> str:
        if self.done_at is not None:
            return "met" if self.done_at <= self.due else "breached"
        return "breached" if now > self.due else "running"

    def late_ms(self, now: int) -> int:
        return max((self.done_at if self.done_at is not None else now) - self.due, 0)


def clock_checks(ticket: TicketView, events: Sequence[Mapping[str, Any]]) -> list[ClockCheck]:
    """The three SLA clocks of a ticket and when each step was done (None: not yet)."""
    return [
        ClockCheck(ticket.id, "acknowledge", ticket.acknowledge_by, acknowledged_at(events)),
        ClockCheck(ticket.id, "feedback", ticket.feedback_by, ticket.first_feedback_at),
        ClockCheck(ticket.id, "resolve", ticket.resolve_by, resolved_at(events)),
    ]


def _spread(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median": None, "p90": None, "n": 0}
    arr = np.asarray(values, dtype=float)
    return {
        "median": float(np.median(arr)),
        "p90": float(np.percentile(arr, 90)),
        "n": len(values),
    }


def _compliance(states: Counter[str]) -> dict[str, Any]:
    judged = states["met"] + states["breached"]
    return {
        "met": states["met"],
        "breached": states["breached"],
        "running": states["running"],
        "compliance": states["met"] / judged if judged else None,
    }


WEEK_MS = WEEK_HOURS * HOUR_MS


def review_weeks(start: int, end: int, zone: tzinfo = UTC) -> list[tuple[int, int]]:
    """The weeks the complaint trend is told in, oldest first: Monday to Monday in the
    operator's zone, from the week holding the month's first day to the week holding its
    last, plus the week before them so that every week shown has a change from the one
    before. Weeks reach outside the month: a week is compared whole."""
    local = datetime.fromtimestamp(start / 1000, tz=UTC).astimezone(zone)
    monday = local.replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(
        days=local.weekday()
    )
    first = int(monday.timestamp() * 1000) - WEEK_MS
    n = math.ceil((end - first) / WEEK_MS)
    return [(first + k * WEEK_MS, first + (k + 1) * WEEK_MS) for k in range(n)]


def _change(now: int, before: int) -> float | None:
    """Week over week, as a fraction (+0.2: 20% more); None from a week without any."""
    return (now - before) / before if before else None


def complaint_volume(
    counts: Iterable[Count],
    start: int,
    end: int,
    tickets: Mapping[str, int] | None = None,
    zone: tzinfo = UTC,
) -> dict[str, Any]:
    """Complaints of the month per category and per region, each with its weekly counts
    (None for a week without any complaint recorded) and their week-over-week changes
    (``review_weeks``); ``tickets`` per region sits beside a region's trend. Sorted by
    the month's volume, largest first."""
    weeks = review_weeks(start, end, zone)
    first = weeks[0][0]
    month: dict[str, Counter[str]] = {"category": Counter(), "region": Counter()}
    weekly: dict[str, dict[str, list[int]]] = {"category": {}, "region": {}}
    recorded: set[int] = set()  # weeks with any complaint, of any region and category
    for c in counts:
        k = (c.hour - first) // WEEK_MS
        if not 0 <= k < len(weeks):
            continue
        recorded.add(k)
        for key, name in (("category", c.category), ("region", c.region)):
            weekly[key].setdefault(name, [0] * len(weeks))[k] += c.count
            if start <= c.hour < end:
                month[key][name] += c.count

    def rows(key: str) -> list[dict[str, Any]]:
        out = []
        for name, counted in weekly[key].items():
            # a week without any complaint anywhere is one the history does not reach
            # (a month whose first days came before the monitor), not a week of zeros:
            # None, so that the trend shows a gap there instead of a fall to nothing
            by_week = [n if k in recorded else None for k, n in enumerate(counted)]
            row: dict[str, Any] = {key: name, "month": month[key][name]}
            row["weeks"] = by_week[1:]
            row["changes"] = [
                None if a is None or b is None else _change(b, a) for a, b in pairwise(by_week)
            ]
            if key == "region":
                row["tickets"] = (tickets or {}).get(name, 0)
            out.append(row)
        return sorted(out, key=lambda r: (-r["month"], -(r["weeks"][-1] or 0), r[key]))

    return {
        "weeks": [{"start": to_iso(a), "end": to_iso(b)} for a, b in weeks[1:]],
        "month": sum(month["category"].values()),
        "by_category": rows("category"),
        "by_region": rows("region"),
    }


def monthly_review(
    tickets: Sequence[TicketView],
    events: Mapping[int, Sequence[Mapping[str, Any]]],
    start: int,
    end: int,
    now: int,
    regions: int | None = None,
    complaints: Iterable[Count] = (),
    zone: tzinfo = UTC,
) -> dict[str, Any]:
    """The review of tickets first fired in [start, end), judged at ``now``; ``regions``
    watched (default: the regions with a ticket) for false alarms per region-week; the
    complaint counts of ``review_weeks`` (in ``zone``) for the trend beside the alerts."""
    month = [t for t in tickets if start <= t.first_hour < end]
    checks = {t.id: clock_checks(t, events.get(t.id, ())) for t in month}
    by_clock: dict[str, Counter[str]] = {c: Counter() for c in CLOCKS}
    by_department: dict[str, dict[str, Counter[str]]] = {}
    breaches = []
    for t in month:
        for check in checks[t.id]:
            state = check.state(now)
            by_clock[check.clock][state] += 1
            dept = by_department.setdefault(t.department, {c: Counter() for c in CLOCKS})
            dept[check.clock][state] += 1
            if state == "breached":
                breaches.append(
                    {
                        "ticket": t.id,
                        "region": t.region,
                        "department": t.department,
                        "owner": t.owner,
                        "clock": check.clock,
                        "due": to_iso(check.due),
                        "done": None if check.done_at is None else to_iso(check.done_at),
                        "late_minutes": round(check.late_ms(now) / MINUTE_MS, 1),
                    }
                )
    outcomes = Counter(t.outcome or "unresolved" for t in month)
    specs: dict[str, Counter[str]] = {}
    for t in month:
        specs.setdefault(t.spec_id or t.detector, Counter())[t.outcome or "unresolved"] += 1
    region_count = regions or len({t.region for t in month}) or 1
    weeks = (end - start) / (WEEK_HOURS * HOUR_MS)
    per_region = Counter(t.region for t in month)
    causes = Counter(
        (t.region, t.cause) for t in month if t.outcome == Outcome.CONFIRMED_FAULT and t.cause
    )
    to_ack = [
        (at - t.opened_at) / MINUTE_MS
        for t in month
        if (at := acknowledged_at(events.get(t.id, ()))) is not None
    ]
    to_resolve = [
        (at - t.opened_at) / HOUR_MS
        for t in month
        if (at := resolved_at(events.get(t.id, ()))) is not None
    ]
    return {
        "start": to_iso(start),
        "end": to_iso(end),
        "judged_at": to_iso(now),
        "tickets": len(month),
        "sla": {
            "by_clock": {c: _compliance(by_clock[c]) for c in CLOCKS},
            "by_department": {
                d: {c: _compliance(states[c]) for c in CLOCKS}
                for d, states in sorted(by_department.items())
            },
            "breaches": sorted(breaches, key=lambda b: (-b["late_minutes"], b["ticket"])),
        },
        "counts": {
            key: dict(Counter(getattr(t, key) for t in month).most_common())
            for key in ("department", "region", "metric", "detector")
        },
        "recurring": {
            "regions": [{"region": r, "tickets": n} for r, n in per_region.most_common() if n > 1],
            "region_causes": [
                {"region": r, "cause": c, "tickets": n} for (r, c), n in causes.most_common()
            ],
        },
        "quality": {
            "outcomes": dict(outcomes.most_common()),
            "by_spec": {
                spec: {
                    "tickets": sum(c.values()),
                    "confirmed": c[Outcome.CONFIRMED_FAULT.value],
                    "false_alarms": c[Outcome.FALSE_ALARM.value],
                    "precision": (
                        c[Outcome.CONFIRMED_FAULT.value]
                        / (c[Outcome.CONFIRMED_FAULT.value] + c[Outcome.FALSE_ALARM.value])
                        if c[Outcome.CONFIRMED_FAULT.value] + c[Outcome.FALSE_ALARM.value]
                        else None
                    ),
                }
                for spec, c in sorted(specs.items())
            },
            "false_alarms_per_region_week": outcomes[Outcome.FALSE_ALARM.value]
            / (region_count * weeks),
            "regions": region_count,
            "time_to_acknowledge_minutes": _spread(to_ack),
            "time_to_resolve_hours": _spread(to_resolve),
        },
        "complaints": complaint_volume(complaints, start, end, per_region, zone),
    }


def review_of(
    store: TicketStore,
    month: str,
    zone: tzinfo,
    now: int,
    regions: int | None = None,
    volume: bool = True,
) -> dict[str, Any]:
    """The review of ``month`` (YYYY-MM in ``zone``) read from a ticket store: the audit
    trails of that month's tickets only (``volume=False``: without the complaint trend);
    ValueError for a month that is not one."""
    start, end = month_span(month, zone)
    tickets = store.first_fired(start, end)
    events = store.events_of([t.id for t in tickets])
    weeks = review_weeks(start, end, zone)
    counts = store.complaints(weeks[0][0], weeks[-1][1]) if volume else ()
    return monthly_review(tickets, events, start, end, now, regions, counts, zone)
