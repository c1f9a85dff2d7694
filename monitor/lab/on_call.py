"""A simulated on-call engineer for the demo: works every ticket as the service policy
asks (acknowledge, a first word, resolve with what the inspection found), a little late
now and then as a person is, so the monthly review has clocks and outcomes to show.

What the inspection "finds" comes from the simulator's labels: a ticket that caught an
injected incident is a confirmed fault with that incident's cause; any other ticket is a
false alarm.
"""

from __future__ import annotations

from alerts.sla import MINUTE_MS
from alerts.tickets.lifecycle import ACTIVE_STATES
from alerts.tickets.store import TicketStore
from detectors.timeaxis import HOUR_MS
from monitor.lab.scorecard import Scorecard

ON_CALL = "on-call"
CAUSE_OF_KIND = {
    "site_degradation": "site_hardware",
    "evening_congestion": "capacity",
    "billing_fault": "billing_run",
    "install_repair_backlog": "field_service_backlog",
}


def work_tickets(store: TicketStore, card: Scorecard) -> int:
    """Acknowledge, comment and resolve every active ticket; returns how many."""
    verdicts: dict[int, tuple[str, str | None]] = {}
    for incident in card.incidents:
        for ticket_id in incident.ticket_ids:
            verdicts[ticket_id] = ("confirmed_fault", CAUSE_OF_KIND.get(incident.kind, "other"))
    worked = 0
    for t in store.all():
        if t.state not in ACTIVE_STATES:
            continue
        outcome, cause = verdicts.get(t.id, ("false_alarm", None))
        # 6-22 minutes to answer, 20-89 hours to close the loop: some clocks slip
        acked = t.opened_at + (6 + (7 * t.id) % 17) * MINUTE_MS
        store.transition(t.id, "acknowledge", ON_CALL, "", acked)
        store.transition(t.id, "comment", ON_CALL, "inspection booked", acked + 2 * HOUR_MS)
        closed = acked + (20 + (13 * t.id) % 70) * HOUR_MS
        store.transition(t.id, "resolve", ON_CALL, "inspected", closed, outcome, cause)
        worked += 1
    return worked
