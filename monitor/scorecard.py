"""Score tickets against labelled incidents: caught or missed, delay, false alarms.

A ticket matches an incident when it is for the same region, for the incident's metric or
one of its related metrics, and opened between the incident's start and its end plus a
grace period. Each ticket matches at most one incident; a ticket that matches none is a
false alarm. Extra tickets on one incident are reported, since "one incident, one ticket"
is a promise the alert policy makes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.tickets import TicketView
from monitor.simulator import Label
from monitor.windows import HOUR_MS


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

    def to_json(self) -> dict[str, object]:
        return {"id": self.id, "kind": self.kind, "region": self.region,
                "metric": self.metric, "caught": self.caught, "delay_hours": self.delay_hours,
                "ticket_id": self.ticket_id, "tickets": len(self.ticket_ids)}


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
            "false_alarms": [{"ticket_id": t.id, "region": t.region, "metric": t.metric,
                              "detector": t.detector, "first_hour": t.first_hour}
                             for t in self.false_alarms],
            "tickets": self.tickets,
        }


def _matches(label: Label, ticket: TicketView, grace_ms: int) -> bool:
    if ticket.region != label.region:
        return False
    if ticket.metric != label.metric and ticket.metric not in label.related:
        return False
    detected = ticket.first_hour + HOUR_MS
    return label.start < detected <= label.end + grace_ms


def score(labels: list[Label], tickets: list[TicketView], grace_hours: int = 72) -> Scorecard:
    grace = grace_hours * HOUR_MS
    used: set[int] = set()
    results = []
    for label in sorted(labels, key=lambda lab: lab.start):
        matched = [t for t in tickets if t.id not in used and _matches(label, t, grace)]
        used.update(t.id for t in matched)
        first = min(matched, key=lambda t: t.opened_at) if matched else None
        results.append(IncidentScore(
            id=label.id, kind=label.kind, region=label.region, metric=label.metric,
            caught=first is not None,
            delay_hours=None if first is None else (first.opened_at - label.start) / HOUR_MS,
            ticket_id=None if first is None else first.id,
            ticket_ids=[t.id for t in matched]))
    false_alarms = [t for t in tickets if t.id not in used]
    return Scorecard(incidents=results, false_alarms=false_alarms, tickets=len(tickets))
