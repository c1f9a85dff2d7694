"""Alert policy: from per-hour findings to ticket actions (open, update, recover, resolve).

A pure state machine over event time. Rules:
* one incident per fingerprint at a time: while its ticket is open, new findings update
  it (even after a recovery), they never open a second ticket;
* an incident whose findings stop for ``clear_after_hours`` is marked recovered (and
  resolved, if ``auto_resolve``); hours its detector never judges do not count (a
  detector judging once a day waits ``clear_after_hours`` past its next judgement, so an
  evening's shortage does not recover every night and re-fire every evening);
* findings of *another* detector on the same region and metric join the open incident
  (one problem, one ticket: the early-trend, week-over-week and site-fault detectors all
  watch the same complaints when a site degrades), except across the line between an
  evening capacity shortage and a fault: a site-fault finding on a region's broadband
  lag joined the capacity ticket a month of evenings had kept open on that series, and
  the failing site was told as "capacity shortage, not a fault" under a capacity plan;
  and across the line between a fall and a rise: a drop opened a ticket on a Twitter
  volume's third day, and five bursts of the series re-fired it under the drop's title
  (a collapse of complaint intake is the hotline's problem, a burst the cause's);
* a region's network evidence is one problem too: KPI findings, site-fault findings and
  findings on complaints the network team owns (weak signal, broadband lag) of the same
  region join its open network incident, so a failing site is one inspection ticket, not
  one per symptom and detector;
* after a ticket is resolved or closed, the fingerprint is in cooldown for
  ``cooldown_hours``: findings in that time are suppressed (counted, not ticketed);
* and once a person resolved or closed it, its problem is not raised again on the
  evidence it was resolved on: a finding of that problem whose window begins before the
  ticket ended is suppressed too. A week-over-week rise stays in the last 7 days for a
  week after the site was mended: it opened a second ticket a few hours after the first
  was resolved (the fingerprint of a detector that had only joined the ticket had no
  cooldown) and a third a day later. A short-window detector still speaks within hours
  if the fault is still there.
The state can be rebuilt from the open tickets, so a restarted worker keeps deduplicating.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from alerts.findings import SpecFinding, TickResult
from alerts.policy.fingerprint import fingerprint, ticket_key
from alerts.policy.settings import AlertSettings
from alerts.taxonomy import Department, department_for
from detectors.base import Finding
from detectors.burst import DropDetector
from detectors.composite import PeakCongestionDetector, SiteFaultDetector
from detectors.registry import REGISTRY
from detectors.timeaxis import HOUR_MS


@dataclass(slots=True)
class Incident:
    fingerprint: str
    ticket_key: str
    region: str
    first_hour: int
    last_fired_hour: int
    recovered: bool = False
    metric: str = ""
    detector: str = ""

    @property
    def problem(self) -> tuple[str, str]:
        return problem_of(self.region, self.metric, self.detector)


NETWORK = "network"
CAPACITY = PeakCongestionDetector.name  # its findings say "capacity, not a fault"
FALL = DropDetector.name  # its findings say "fewer than usual": intake or traffic lost
APART = (CAPACITY, FALL)  # their findings are their own problem on any series


def series_of(region: str, metric: str, detector: str) -> tuple[str, str, str]:
    """The series a finding is on, for joining an open incident: capacity findings, falls
    and the rest are kept apart even on one series (their remedies differ)."""
    return (region, metric, detector if detector in APART else "")


def problem_of(region: str, metric: str, detector: str) -> tuple[str, str]:
    """Which problem a finding is evidence of: its series, or its region's network (KPI
    findings, a dead site's traffic among them, site-fault findings and complaints the
    network team owns; an evening capacity shortage stays its own problem, and so does a
    fall of complaints)."""
    if detector == CAPACITY:
        return (region, f"capacity:{metric}")
    network = department_for(metric) is Department.NETWORK_MAINTENANCE
    if detector == SiteFaultDetector.name or network:
        return (region, NETWORK)
    # a category's count and its rate per subscriber are one problem
    series = metric.replace("complaint_rate.", "complaints.", 1)
    return (region, f"fall:{series}" if detector == FALL else series)


@dataclass(frozen=True, slots=True)
class OpenTicket:
    ticket_key: str
    fingerprint: str
    finding: SpecFinding


@dataclass(frozen=True, slots=True)
class UpdateTicket:
    ticket_key: str
    finding: SpecFinding
    refired: bool  # fired again after it had recovered


@dataclass(frozen=True, slots=True)
class TicketRecovered:
    ticket_key: str
    hour: int
    resolve: bool
    region: str = ""
    metric: str = ""
    quiet_hours: int = 0  # since its last finding


@dataclass(frozen=True, slots=True)
class Suppressed:
    fingerprint: str
    finding: SpecFinding
    cooldown_until: int


Action = OpenTicket | UpdateTicket | TicketRecovered | Suppressed


@dataclass
class AlertPolicy:
    """The state machine from judged hours to ticket actions; pure, so a replay and a live
    worker decide alike, and rebuildable from the ticket store after a restart."""

    settings: AlertSettings
    active: dict[str, Incident] = field(default_factory=dict)
    cooldown_until: dict[str, int] = field(default_factory=dict)
    ended: dict[tuple[str, str], int] = field(default_factory=dict)  # problem -> when

    def on_tick(self, tick: TickResult) -> list[Action]:
        hour = tick.hour
        firing: dict[str, SpecFinding] = {}
        for spec_finding in tick.findings:
            f = spec_finding.finding
            fp = fingerprint(f.region, f.metric, f.detector)
            best = firing.get(fp)
            if best is None or f.score > best.finding.score:
                firing[fp] = spec_finding
        actions: list[Action] = []
        by_series = {series_of(i.region, i.metric, i.detector): i for i in self.active.values()}
        by_problem = {i.problem: i for i in self.active.values()}
        for fp in sorted(firing):
            spec_finding = firing[fp]
            incident = self.active.get(fp)
            f = spec_finding.finding
            if incident is None:
                incident = by_series.get(series_of(f.region, f.metric, f.detector))
            if incident is None:
                incident = by_problem.get(problem_of(f.region, f.metric, f.detector))
            if incident is not None:
                refired = incident.recovered
                incident.recovered = False
                incident.last_fired_hour = hour
                actions.append(UpdateTicket(incident.ticket_key, spec_finding, refired))
                continue
            until = self.held_back(fp, f)
            if until is not None:
                actions.append(Suppressed(fp, spec_finding, until))
                continue
            key = ticket_key(fp, hour)
            incident = Incident(fp, key, f.region, hour, hour, metric=f.metric, detector=f.detector)
            self.active[fp] = incident
            by_series[series_of(f.region, f.metric, f.detector)] = incident
            by_problem[incident.problem] = incident  # none had it: we would have joined
            actions.append(OpenTicket(key, fp, spec_finding))
        for fp in sorted(self.active):
            incident = self.active[fp]
            if (
                incident.last_fired_hour == hour
                or incident.recovered
                or incident.region not in tick.regions
            ):
                continue
            quiet = hour - incident.last_fired_hour
            if quiet >= self.clear_after_ms(incident.detector):
                incident.recovered = True
                actions.append(
                    TicketRecovered(
                        incident.ticket_key,
                        hour,
                        self.settings.auto_resolve,
                        incident.region,
                        incident.metric,
                        quiet // HOUR_MS,
                    )
                )
                if self.settings.auto_resolve:
                    self.auto_resolved(fp, hour + HOUR_MS)
        return actions

    def clear_after_ms(self, detector: str) -> int:
        """How long an incident of ``detector`` stays quiet before it has recovered."""
        cls = REGISTRY.get(detector)
        cadence = 1 if cls is None else cls.cadence_hours
        return self.settings.clear_after_ms + (cadence - 1) * HOUR_MS

    def held_back(self, fp: str, f: Finding) -> int | None:
        """Until when a finding that joins no open incident stays suppressed (the first
        hour it may open a ticket), or None: the fingerprint's cooldown, and for its
        problem's last ticket a person ended, until the finding's window begins after
        that end."""
        holds = []
        until = self.cooldown_until.get(fp)
        if until is not None and f.hour < until:
            holds.append(until)
        ended = self.ended.get(problem_of(f.region, f.metric, f.detector))
        if ended is not None and f.window_start < ended:
            holds.append(ended + (f.hour - f.window_start))  # a window as long starts there
        return max(holds, default=None)

    def ticket_closed(self, fp: str, at: int, problem: tuple[str, str] | None = None) -> None:
        """A person ended the ticket at ``at``: start the cooldown, and hold back its
        problem's findings on evidence from before then. ``problem``: when the incident is
        no longer tracked (the finding's problem)."""
        incident = self._cool_down(fp, at)
        problem = incident.problem if incident is not None else problem
        if problem is not None and at > self.ended.get(problem, at - 1):
            self.ended[problem] = at

    def auto_resolved(self, fp: str, at: int) -> None:
        """The ticket resolved itself at ``at`` (quiet for ``clear_after_hours``): only
        the cooldown. Nobody dealt with its evidence, and a detector that fires again on
        it after that quiet has seen more of it: a new episode."""
        self._cool_down(fp, at)

    def _cool_down(self, fp: str, at: int) -> Incident | None:
        """Start the fingerprint's cooldown at ``at``; its incident, no longer tracked."""
        self.cooldown_until[fp] = at + self.settings.cooldown_ms
        return self.active.pop(fp, None)

    def reopened(self, incident: Incident) -> None:
        """A person reopened the ticket of ``incident``: its findings are its own again,
        without the cooldown or the hold-back its resolution started."""
        self.active[incident.fingerprint] = incident
        self.cooldown_until.pop(incident.fingerprint, None)
        self.ended.pop(incident.problem, None)

    def fingerprint_of(self, key: str) -> str | None:
        return next((fp for fp, i in self.active.items() if i.ticket_key == key), None)

    def adopt(self, fp: str, key: str, first_hour: int) -> None:
        """The store already had an active ticket for ``fp``: track that one instead."""
        incident = self.active.get(fp)
        if incident is not None:
            incident.ticket_key = key
            incident.first_hour = first_hour

    def restore(
        self,
        incidents: list[Incident],
        cooldowns: dict[str, int],
        ended: dict[tuple[str, str], int] | None = None,
    ) -> None:
        """Rebuild state from the ticket store after a restart."""
        self.active = {i.fingerprint: i for i in incidents}
        self.cooldown_until = dict(cooldowns)
        self.ended = dict(ended or {})
