"""A simulated on-call engineer for the demo: works every ticket as the service policy
asks (acknowledge, a first word, resolve with what the inspection found), a little late
now and then as a person is, so the monthly review has clocks and outcomes to show.

It works *during* the replay, an hour at a time (``hour_judged``, a pipeline tick
listener): a ticket resolved on Tuesday is resolved when Wednesday's findings reach the
alert policy, which puts its fingerprint in cooldown as it would live. Worked after the
replay instead, every ticket's audit read as an impossible history: findings recorded,
recovered and re-fired for days after its resolution, the acknowledgement listed after
them.

What the inspection "finds" comes from the simulator's labels: a ticket that caught an
injected incident is a confirmed fault with that incident's cause; any other ticket is a
false alarm.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.findings import TickResult
from alerts.sla import MINUTE_MS
from alerts.tickets.lifecycle import Refused
from alerts.tickets.store import TicketStore
from alerts.tickets.view import TicketView
from detectors.timeaxis import HOUR_MS
from monitor.lab.scorecard import matches
from monitor.lab.simulate_events import Label
from monitor.pipeline import replay_clock

ON_CALL = "on-call"
CAUSE_OF_KIND = {
    "site_degradation": "site_hardware",
    "evening_congestion": "capacity",
    "billing_fault": "billing_run",
    "install_repair_backlog": "field_service_backlog",
}
END_OF_TIME = 2**62


@dataclass(frozen=True, slots=True)
class Step:
    at: int
    action: str
    comment: str = ""
    outcome: str | None = None
    cause: str | None = None


def plan(ticket: TicketView, labels: list[Label]) -> list[Step]:
    """The person's steps on one ticket, in time order: 6-22 minutes to answer, a first
    word 2 hours later, 20-89 hours to close the loop (some clocks slip)."""
    label = next(
        (lab for lab in labels if matches(lab, ticket.region, ticket.metric, ticket.first_hour)),
        None,
    )
    outcome, cause = (
        ("false_alarm", None)
        if label is None
        else ("confirmed_fault", CAUSE_OF_KIND.get(label.kind, "other"))
    )
    acked = ticket.opened_at + (6 + (7 * ticket.id) % 17) * MINUTE_MS
    closed = acked + (20 + (13 * ticket.id) % 70) * HOUR_MS
    if label is not None:  # the loop closes once the fault is mended: the incident's end
        closed = max(closed, label.end + (1 + ticket.id % 5) * HOUR_MS)
    return [
        Step(acked, "acknowledge"),
        Step(acked + 2 * HOUR_MS, "comment", "inspection booked"),
        Step(closed, "resolve", "inspected", outcome, cause),
    ]


@dataclass
class SimulatedOnCall:
    """Works the tickets of ``store`` as the replay's clock passes each step's time."""

    store: TicketStore
    labels: list[Label]
    steps: dict[int, list[Step]] = field(default_factory=dict)  # ticket id -> steps left
    worked: set[int] = field(default_factory=set)

    def work_until(self, now: int) -> None:
        """Take every active ticket not seen yet, and do every step due by ``now``."""
        for ticket in self.store.active():
            if ticket.id not in self.worked:
                self.worked.add(ticket.id)
                self.steps[ticket.id] = plan(ticket, self.labels)
        for ticket_id, steps in list(self.steps.items()):
            while steps and steps[0].at <= now:
                step = steps.pop(0)
                done = self.store.transition(
                    ticket_id, step.action, ON_CALL, step.comment, step.at, step.outcome, step.cause
                )
                if isinstance(done, Refused):  # resolved meanwhile (auto_resolve): done
                    steps.clear()
            if not steps:
                del self.steps[ticket_id]

    def hour_judged(self, result: TickResult) -> None:
        """A pipeline tick listener: the alert policy handled ``result.hour`` at its close."""
        self.work_until(replay_clock(result.hour))

    def finish(self) -> int:
        """The replay is over: every step left is done. Returns the tickets worked."""
        self.work_until(END_OF_TIME)
        return len(self.worked)
