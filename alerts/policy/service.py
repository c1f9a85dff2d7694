"""Alert service: applies the policy's actions to the ticket store and tells on-call.

The one place where detection meets side effects; both runners call it the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from alerts.findings import SpecFinding, TickResult
from alerts.notify.messages import number
from alerts.notify.outbox import Attempt, Dispatcher
from alerts.notify.settings import NotificationSettings
from alerts.policy.fingerprint import fingerprint
from alerts.policy.incidents import (
    AlertPolicy,
    Incident,
    OpenTicket,
    Suppressed,
    TicketRecovered,
    UpdateTicket,
    problem_of,
)
from alerts.policy.notifiers import Notification, Notifier
from alerts.policy.settings import AlertSettings
from alerts.taxonomy import Department, department_for
from alerts.tickets.store import TicketStore
from alerts.tickets.view import TicketView

log = logging.getLogger("yujing.alerts")
NETWORK = Department.NETWORK_MAINTENANCE


@dataclass
class AlertStats:
    opened: int = 0
    updated: int = 0
    recovered: int = 0
    refired: int = 0
    suppressed: int = 0


@dataclass
class AlertService:
    """Applies the policy's actions to the ticket store and tells on-call: the one place
    where detection meets side effects, called the same way by both runners."""

    store: TicketStore
    notifier: Notifier
    settings: AlertSettings
    notifications: NotificationSettings | None = None
    # delivers the outbox after every tick when set (embedded runner); the Faust worker
    # delivers from a timer instead, off the event loop
    dispatcher: Dispatcher | None = None
    deliver_inline: bool = True
    # a series' value at an hour (the pipeline's series store): what a recovery message
    # tells as the value now, instead of the last finding's figures alone
    reading: Callable[[str, str, int], float | None] | None = None
    # the sites a network ticket on (region, metric) names, by the finding's spec and
    # hour (the pipeline's site ledger)
    sites: Callable[[str, str, str, int], tuple[str, ...]] | None = None
    policy: AlertPolicy = field(init=False)
    stats: AlertStats = field(default_factory=AlertStats)

    def __post_init__(self) -> None:
        self.policy = AlertPolicy(self.settings)
        self.store.notifications = self.notifications
        self.store.sla_by_severity = self.settings.sla_policies()
        self.restore()

    def reconfigure(
        self, settings: AlertSettings, notifications: NotificationSettings | None = None
    ) -> None:
        self.settings = settings
        self.policy.settings = settings
        self.store.sla_by_severity = settings.sla_policies()
        if notifications is not None:
            self.notifications = notifications
            self.store.notifications = notifications
            if self.dispatcher is not None:
                self.dispatcher.configure(notifications)

    def escalate(self, now: int) -> int:
        """Escalate breached SLA clocks (wall clock in a live worker); returns how many."""
        risen = self.store.escalate_due(now)
        for ticket, _clock in risen:
            self.notifier.send(Notification("escalated", ticket, now))
        return len(risen)

    def deliver(self) -> list[Attempt]:
        return [] if self.dispatcher is None else self.dispatcher.run_once()

    def restore(self) -> None:
        """Rebuild the dedup state from the open tickets and the cooldowns from the ended
        ones (after a restart or a rebalance)."""
        incidents = [self._incident(t) for t in self.store.active()]
        cooldown, ended = self.settings.cooldown_ms, self.store.ended()
        problems: dict[tuple[str, str], int] = {}
        cooldowns: dict[str, int] = {}
        for t in ended:
            cooldowns[t.fingerprint] = max(cooldowns.get(t.fingerprint, 0), t.at + cooldown)
            if t.by_person:
                problem = problem_of(t.region, t.metric, t.detector)
                problems[problem] = max(problems.get(problem, t.at), t.at)
        self.policy.restore(incidents, cooldowns, problems)

    def _unless_reopened(self, action: Suppressed) -> Suppressed | UpdateTicket:
        """A finding held back by its ticket's resolution, unless a person reopened that
        ticket since: then it is the ticket's again (a re-fire if it had recovered). The
        policy hears of a reopening only here; it held the reopened ticket's findings
        back for the cooldown, and for a week's window after the resolution."""
        ticket = self.store.active_for(action.fingerprint)
        if ticket is None:
            return action
        incident = self._incident(ticket)
        incident.last_fired_hour = action.finding.finding.hour
        refired, incident.recovered = incident.recovered, False
        self.policy.reopened(incident)
        return UpdateTicket(ticket.key, action.finding, refired)

    @staticmethod
    def _incident(t: TicketView) -> Incident:
        """The policy's view of an active ticket (after a restart, or a reopening)."""
        return Incident(
            t.fingerprint,
            t.key,
            t.region,
            t.first_hour,
            t.last_fired_hour,
            recovered=t.recovered_at is not None,
            metric=t.metric,
            detector=t.detector,
        )

    def _cleared(self, action: TicketRecovered) -> str:
        """What the recovery's audit row (and message) says: how long it has been quiet and,
        where the series is known, its value at the recovery hour."""
        said = f"anomaly cleared: no finding for {action.quiet_hours} h"
        value = (
            None
            if self.reading is None
            else self.reading(action.region, action.metric, action.hour)
        )
        return said if value is None else f"{said}; {action.metric} now {number(value)}"

    def _sites(self, finding: SpecFinding) -> tuple[str, ...]:
        """Sites to inspect first, for a ticket the network team gets: none otherwise
        (a billing dispute is no site's fault)."""
        f = finding.finding
        routing = {k: v.value for k, v in self.settings.routing.items()}
        if self.sites is None or department_for(f.metric, routing) is not NETWORK:
            return ()
        return self.sites(f.region, f.metric, finding.spec_id, f.hour)

    def handle(self, tick: TickResult, now: int) -> None:
        """Apply one detection tick; ``now`` is the runner's clock (event time in replays)."""
        for planned in self.policy.on_tick(tick):
            action = self._unless_reopened(planned) if isinstance(planned, Suppressed) else planned
            if isinstance(action, OpenTicket):
                ticket, created = self.store.open(
                    action.ticket_key,
                    action.fingerprint,
                    action.finding,
                    now,
                    routing={k: v.value for k, v in self.settings.routing.items()},
                    sites=self._sites(action.finding),
                )
                if not created and ticket.key != action.ticket_key:
                    # another worker (before a rebalance) opened it: adopt, do not duplicate
                    self.policy.adopt(action.fingerprint, ticket.key, ticket.first_hour)
                    self.store.record_finding(ticket.key, action.finding, now, refired=False)
                if created:
                    self.stats.opened += 1
                    self.notifier.send(Notification("opened", ticket, now))
            elif isinstance(action, UpdateTicket):
                self.stats.updated += 1
                ended = self.store.record_finding(
                    action.ticket_key,
                    action.finding,
                    now,
                    action.refired,
                    self._sites(action.finding),
                )
                if ended is None and action.refired:
                    # recovered, then firing again: a new episode, and on-call hears of it
                    refired = self.store.by_key(action.ticket_key)
                    if refired is not None:
                        self.stats.refired += 1
                        self.notifier.send(Notification("refired", refired, now))
                if ended is not None:  # a person resolved it meanwhile: cooldown from then
                    f = action.finding.finding
                    self.policy.ticket_closed(
                        self.policy.fingerprint_of(action.ticket_key)
                        or fingerprint(f.region, f.metric, f.detector),
                        ended,
                        problem_of(f.region, f.metric, f.detector),
                    )
            elif isinstance(action, TicketRecovered):
                recovery = self.store.mark_recovered(
                    action.ticket_key,
                    now,
                    action.resolve,
                    self._cleared(action),
                    self.settings.auto_resolve_outcome.value,
                )
                if recovery is not None:
                    self.stats.recovered += 1
                    if recovery.was_active:  # resolved by a person: on-call heard of it then
                        self.notifier.send(Notification("recovered", recovery.ticket, now))
            elif isinstance(action, Suppressed):
                self.stats.suppressed += 1
                log.info(
                    "finding suppressed by cooldown",
                    extra={
                        "fields": {
                            "fingerprint": action.fingerprint,
                            "until": action.cooldown_until,
                        }
                    },
                )
        if self.deliver_inline:
            self.deliver()
