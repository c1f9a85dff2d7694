"""Score tickets against labelled incidents: caught or missed, delay, false alarms.

A ticket matches an incident when it is for the same region, for the incident's metric or
one of its related metrics, and opened between the incident's start and its end plus a
grace period. Each ticket matches at most one incident; a ticket that matches none is a
false alarm. Extra tickets on one incident are reported, since "one incident, one ticket"
is a promise the alert policy makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.tickets.view import TicketView
from detectors.timeaxis import HOUR_MS
from monitor.lab.labels import ANY_METRIC
from monitor.lab.simulate_events import Label


@dataclass
class IncidentScore:
    id: str
    kind: str
    region: str
    metric: str
    caught: bool
    delay_hours: float | None
    ticket_id: int | None
    ticket_ids: list[int] = field(default_factory=list)
    lead_hours: float | None = None  # how long before the problem's worst hour

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.id,
            "kind": self.kind,
            "region": self.region,
            "metric": self.metric,
            "caught": self.caught,
            "delay_hours": self.delay_hours,
            "ticket_id": self.ticket_id,
            "tickets": len(self.ticket_ids),
            "lead_hours": self.lead_hours,
        }


@dataclass
class Scorecard:
    incidents: list[IncidentScore]
    false_alarms: list[TicketView]
    tickets: int

    @property
    def all_caught(self) -> bool:
        return all(i.caught for i in self.incidents)

    def to_json(self) -> dict[str, object]:
        return {
            "incidents": [i.to_json() for i in self.incidents],
            "false_alarms": [
                {
                    "ticket_id": t.id,
                    "region": t.region,
                    "metric": t.metric,
                    "detector": t.detector,
                    "first_hour": t.first_hour,
                }
                for t in self.false_alarms
            ],
            "tickets": self.tickets,
        }


GRACE_HOURS = 72


def concerns(label: Label, region: str, metric: str) -> bool:
    """Is this series the incident's metric, or one of its related metrics, in its region?
    (A window or point labelled on a whole region concerns every metric of it.)"""
    return region == label.region and (
        metric == label.metric or metric in label.related or label.metric == ANY_METRIC
    )


def matches(
    label: Label, region: str, metric: str, hour: int, grace_hours: int = GRACE_HOURS
) -> bool:
    """A detection at ``hour`` (known when the hour closes) belongs to the incident."""
    detected = hour + HOUR_MS
    return concerns(label, region, metric) and (
        label.start < detected <= label.end + grace_hours * HOUR_MS
    )


def score(
    labels: list[Label], tickets: list[TicketView], grace_hours: int = GRACE_HOURS
) -> Scorecard:
    used: set[int] = set()
    results = []
    for label in sorted(labels, key=lambda lab: lab.start):
        matched = [
            t
            for t in tickets
            if t.id not in used and matches(label, t.region, t.metric, t.first_hour, grace_hours)
        ]
        used.update(t.id for t in matched)
        first = min(matched, key=lambda t: t.opened_at) if matched else None
        results.append(
            IncidentScore(
                id=label.id,
                kind=label.kind,
                region=label.region,
                metric=label.metric,
                caught=first is not None,
                delay_hours=None if first is None else (first.opened_at - label.start) / HOUR_MS,
                ticket_id=None if first is None else first.id,
                ticket_ids=[t.id for t in matched],
                lead_hours=None
                if first is None or label.peak is None
                else (label.peak - first.opened_at) / HOUR_MS,
            )
        )
    false_alarms = [t for t in tickets if t.id not in used]
    return Scorecard(incidents=results, false_alarms=false_alarms, tickets=len(tickets))
