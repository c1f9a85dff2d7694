"""The ticket store: opening, updating and moving tickets, every change audited.

Each change writes an audit row (who, when, what) and, in the same transaction, the
outbox rows of the notifications it owes (alerts.notify.outbox).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import NamedTuple

from sqlalchemy import (
    func,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from alerts.database import make_engine, upgrade
from alerts.findings import Severity, SpecFinding
from alerts.notify.outbox import enqueue, wall_ms
from alerts.notify.settings import NotificationSettings
from alerts.outcomes import Outcome, said
from alerts.sla import SlaPolicy, breached_clocks, due_times
from alerts.taxonomy import category_of, department_for
from alerts.tickets import volume
from alerts.tickets.lifecycle import ACTIVE_STATES, Action, Move, Refused, TicketState, decide
from alerts.tickets.models import MAX_ID, Ticket, TicketEvent
from alerts.tickets.view import TicketView, encode_signal, encode_sites

log = logging.getLogger("yujing.tickets")

SYSTEM_ACTOR = "yujing"
# reads of a ticket the system changes only over what it read: people act seconds apart,
# not in the milliseconds between a read and its write, so a third read is never refused
MAX_READS = 3


class Ended(NamedTuple):
    """A fingerprint's latest ended ticket: what it was on, and when it last changed."""

    fingerprint: str
    region: str
    metric: str
    detector: str
    by_person: bool  # resolved or closed by a person, not by auto_resolve
    at: int


class Recovery(NamedTuple):
    """A recovery recorded: the ticket after it, and whether it was still active."""

    ticket: TicketView
    # the anomaly cleared on a ticket people were working; on one a person had already
    # resolved or closed, the recovery is history (audited), not news for on-call
    was_active: bool


def _title(finding: SpecFinding) -> str:
    """What and where, without figures: the figures change with every finding that joins
    and live in their own fields (a title frozen at the opening would contradict them)."""
    f = finding.finding
    return f"Inspect {f.region}: {f.metric} ({f.detector})"


def _escalated(ticket: Ticket) -> set[str]:
    """The SLA clocks already escalated on ``ticket``."""
    return set(filter(None, ticket.escalated.split(",")))


def _claim(s: Session, ticket: Ticket, clocks: Sequence[str]) -> bool:
    """Mark ``clocks`` escalated, one level each, unless since ``ticket`` was read another
    process escalated it or a person moved it (the breach was judged on what was read);
    the ticket in hand then holds the new level and marks."""
    marks = ",".join(sorted(_escalated(ticket) | set(clocks)))
    claimed = s.execute(
        update(Ticket)
        .where(
            Ticket.id == ticket.id,
            Ticket.escalated == ticket.escalated,
            Ticket.state == ticket.state,
            Ticket.first_feedback_at == ticket.first_feedback_at,  # None: IS NULL
        )
        .values(escalated=marks, escalation_level=Ticket.escalation_level + len(clocks))
        .execution_options(synchronize_session=False)
    )
    if claimed.rowcount != 1:
        return False
    set_committed_value(ticket, "escalated", marks)
    set_committed_value(ticket, "escalation_level", ticket.escalation_level + len(clocks))
    return True


class TicketStore:
    """Tickets in a SQL database: opened idempotently by key, one active ticket per
    fingerprint (a database constraint), every change audited with its notifications."""

    def __init__(
        self,
        url: str = "sqlite:///yujing.db",
        sla: SlaPolicy | None = None,
        notifications: NotificationSettings | None = None,
    ) -> None:
        self.engine = make_engine(url)
        # batch() belongs to the thread that opened it: a worker's housekeeping thread
        # escalating while the pipeline thread's catch-up batch was open took that
        # batch's session, and crashed when the batch ended and closed it
        self._local = threading.local()
        self.sla = sla or SlaPolicy()
        # per severity (the config's alerts.sla); others run on ``sla``
        self.sla_by_severity: dict[str, SlaPolicy] = {}
        self.notifications = notifications
        upgrade(self.engine)

    def _audit(self, s: Session, ticket: Ticket, ev: TicketEvent) -> None:
        """Record what happened and, in the same transaction, the notifications it owes."""
        ticket.events.append(ev)
        if self.notifications is None or not self.notifications.routes:
            return
        s.flush()  # a new ticket's id is part of what it tells
        enqueue(s, self.notifications, TicketView.of(ticket).to_json(), ev, wall_ms())

    @property
    def _batch(self) -> Session | None:
        return getattr(self._local, "batch", None)

    @contextmanager
    def session(self) -> Iterator[Session]:
        batch = self._batch
        if batch is not None:  # inside this thread's batch(): one transaction for all of it
            yield batch
            return
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run many ticket changes as one transaction (a replay's week of hours).

        A replay has no reader waiting for each hour's commit, and a commit per hour was
        what a year-long backtest spent most of its time on. All or nothing: an error
        rolls the whole batch back. Other threads keep their own sessions meanwhile.
        """
        if self._batch is not None:
            yield
            return
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            self._local.batch, self._local.tickets = session, {}
            try:
                yield
            finally:
                self._local.batch, self._local.tickets = None, {}

    def _by_key(self, s: Session, key: str) -> Ticket | None:
        """The ticket with ``key``; within a batch, looked up once (no query, no flush, per
        later finding: the batch's own session holds it)."""
        batch = self._batch is not None
        ticket = self._local.tickets.get(key) if batch else None
        if ticket is None:
            ticket = s.scalar(select(Ticket).where(Ticket.key == key))
            if ticket is not None and batch:
                self._local.tickets[key] = ticket
        return ticket

    def open(
        self,
        key: str,
        fp: str,
        finding: SpecFinding,
        now: int,
        routing: dict[str, str] | None = None,
        sites: tuple[str, ...] = (),
    ) -> tuple[TicketView, bool]:
        """Open a ticket, idempotently by key; returns (ticket, created)."""
        f = finding.finding
        with self.session() as s:
            existing = s.scalar(
                select(Ticket).where(or_(Ticket.key == key, Ticket.active_fingerprint == fp))
            )
            if existing is not None:
                return TicketView.of(existing), False
            due = due_times(now, self.sla_for(finding.severity.value))
            category = category_of(f.metric)
            ticket = Ticket(
                key=key,
                fingerprint=fp,
                active_fingerprint=fp,
                region=f.region,
                metric=f.metric,
                detector=f.detector,
                spec_id=finding.spec_id,
                category=category,
                department=department_for(f.metric, routing).value,
                severity=finding.severity.value,
                state=TicketState.OPEN.value,
                title=_title(finding),
                explanation=f.explanation,
                observed=f.observed,
                baseline=f.baseline,
                limit_value=f.limit,
                change_pct=f.change_pct,
                p_value=f.p_value,
                first_hour=f.hour,
                window_start=f.window_start,
                observed_hour=f.hour,
                observed_by=f.detector,
                sites=encode_sites(sites),
                signal=encode_signal(f.signal),
                last_fired_hour=f.hour,
                occurrences=1,
                opened_at=now,
                updated_at=now,
                acknowledge_by=due.acknowledge_by,
                feedback_by=due.feedback_by,
                resolve_by=due.resolve_by,
            )
            s.add(ticket)
            self._audit(
                s,
                ticket,
                TicketEvent(
                    at=now,
                    actor=SYSTEM_ACTOR,
                    action="opened",
                    from_state=None,
                    to_state=TicketState.OPEN.value,
                    comment=f.explanation,
                ),
            )
            s.flush()
            return TicketView.of(ticket), True

    def record_finding(
        self,
        key: str,
        finding: SpecFinding,
        now: int,
        refired: bool,
        sites: tuple[str, ...] = (),
    ) -> int | None:
        """Latest evidence onto an open ticket; audit only the notable (a re-fire).

        Returns when the ticket was ended by a person, if it was (the policy's cooldown
        starts there), else None.
        """
        f = finding.finding
        with self.session() as s:
            ticket = self._by_key(s, key)
            if ticket is None:
                return None
            if ticket.state not in [st.value for st in ACTIVE_STATES]:
                return ticket.updated_at
            if f.hour <= ticket.last_fired_hour:
                return None  # replayed hour: already recorded
            if f.metric == ticket.metric:
                # the figures are the ticket's metric's: a finding on another series of
                # the same problem (a rate beside a count, packet loss beside weak-signal
                # complaints) keeps it open without putting its numbers under this name
                ticket.observed, ticket.baseline = f.observed, f.baseline
                ticket.limit_value = f.limit
                ticket.change_pct, ticket.p_value = f.change_pct, f.p_value
                ticket.explanation = f.explanation
                ticket.window_start, ticket.observed_hour = f.window_start, f.hour
                ticket.observed_by = f.detector
                ticket.signal = encode_signal(f.signal)  # with the figures it explains
            if sites and not ticket.sites:
                # named once, when they stood out: a week into a failure the failing
                # site is its own new usual, and the next in line would be named instead
                ticket.sites = encode_sites(sites)
            ticket.last_fired_hour = f.hour
            ticket.occurrences += 1
            ticket.updated_at = now
            if finding.severity.rank > Severity(ticket.severity).rank:
                # a more urgent finding joined: the ticket (and its routes) become it
                ticket.severity = finding.severity.value
            if refired:
                ticket.recovered_at = None
                self._audit(
                    s,
                    ticket,
                    TicketEvent(
                        at=now,
                        actor=SYSTEM_ACTOR,
                        action="refired",
                        from_state=ticket.state,
                        to_state=ticket.state,
                        comment=f.explanation,
                    ),
                )
            return None

    def mark_recovered(
        self,
        key: str,
        now: int,
        resolve: bool,
        comment: str = "anomaly cleared",
        outcome: str = Outcome.NO_ACTION_NEEDED.value,
    ) -> Recovery | None:
        """The anomaly cleared; with ``resolve`` (the policy's auto_resolve) the ticket is
        resolved too, with ``outcome`` (the config's ``auto_resolve_outcome``). None when
        nothing was recorded (no such ticket, or it had recovered already).

        Written only over the state it was read in, as a person's action is: a person
        resolving meanwhile overwrote that ticket's outcome with the automatic one (what
        the monthly review counts). The ticket is then read again and judged on what
        the person made of it.
        """
        with self.session() as s:
            for _ in range(MAX_READS):
                ticket = s.scalar(select(Ticket).where(Ticket.key == key))
                if ticket is None or ticket.recovered_at is not None:
                    return None
                before, note = ticket.state, comment
                values: dict[str, object] = {"recovered_at": now, "updated_at": now}
                if resolve and before in ACTIVE_STATES:
                    values |= {
                        "state": TicketState.RESOLVED.value,
                        "active_fingerprint": None,
                        "outcome": outcome,
                    }
                    note = f"{comment}; outcome: {said(outcome, None)}"
                done = s.execute(
                    update(Ticket)
                    .where(
                        Ticket.id == ticket.id,
                        Ticket.state == before,
                        Ticket.recovered_at.is_(None),
                    )
                    .values(**values)
                    .execution_options(synchronize_session=False)
                )
                s.expire(ticket)
                if done.rowcount != 1:
                    continue
                self._audit(
                    s,
                    ticket,
                    TicketEvent(
                        at=now,
                        actor=SYSTEM_ACTOR,
                        action="recovered",
                        from_state=before,
                        to_state=str(values.get("state", before)),
                        comment=note,
                    ),
                )
                return Recovery(TicketView.of(ticket), before in ACTIVE_STATES)
        log.warning(
            "recovery not recorded: the ticket kept changing while it was written",
            extra={"fields": {"key": key, "reads": MAX_READS}},
        )
        return None

    def transition(
        self,
        ticket_id: int,
        action: str,
        actor: str,
        comment: str,
        now: int,
        outcome: str | None = None,
        cause: str | None = None,
    ) -> TicketView | Refused:
        """Apply a person's action, or refuse it with the reason.

        Atomic on every backend: the change is one UPDATE conditional on the state and
        owner this call saw, so of two people acting at once exactly one wins (the first
        responder owns the ticket) and the other is refused, never told they own it too.
        """
        try:
            return self._transition(ticket_id, Action(action), actor, comment, now, outcome, cause)
        except IntegrityError:  # reopening while another ticket holds the series
            current = self.get(ticket_id)
            return Refused(
                Action(action),
                current.state if current is not None else "missing",
                "another ticket is active for this region, metric and detector; "
                "work that one instead",
            )

    def _transition(
        self,
        ticket_id: int,
        action: Action,
        actor: str,
        comment: str,
        now: int,
        outcome: str | None,
        cause: str | None,
    ) -> TicketView | Refused:
        if not 1 <= ticket_id <= MAX_ID:
            return Refused(action, "missing", f"no ticket {ticket_id}")
        with self.session() as s:
            ticket = s.get(Ticket, ticket_id)
            if ticket is None:
                return Refused(action, "missing", f"no ticket {ticket_id}")
            verdict = decide(action, ticket.state, ticket.owner, actor, outcome, cause, comment)
            if not isinstance(verdict, Move):
                return verdict
            before, owner = ticket.state, ticket.owner
            to_state = verdict.to_state
            values: dict[str, object] = {
                "state": to_state.value,
                "owner": verdict.owner,
                "updated_at": now,
                "active_fingerprint": ticket.fingerprint if to_state in ACTIVE_STATES else None,
            }
            if verdict.action is Action.RESOLVE:
                values |= {"outcome": outcome, "cause": cause}
                comment = f"outcome: {said(outcome, cause)}" + (f"; {comment}" if comment else "")
            elif verdict.action is Action.REOPEN:
                values |= {"outcome": None, "cause": None}  # it is open again: no verdict
            if to_state is TicketState.OPEN and verdict.action is Action.REOPEN:
                # reopened: the clocks start again
                due = due_times(now, self.sla_for(ticket.severity))
                values |= {
                    "acknowledge_by": due.acknowledge_by,
                    "feedback_by": due.feedback_by,
                    "resolve_by": due.resolve_by,
                    "escalated": "",
                }
            if (
                ticket.first_feedback_at is None
                and actor == verdict.owner
                and verdict.action in (Action.COMMENT, Action.START, Action.RESOLVE)
            ):
                values["first_feedback_at"] = now
            seen_owner = Ticket.owner.is_(None) if owner is None else Ticket.owner == owner
            done = s.execute(
                update(Ticket)
                .where(Ticket.id == ticket_id, Ticket.state == before, seen_owner)
                .values(**values)
                .execution_options(synchronize_session=False)
            )
            if done.rowcount != 1:
                s.expire(ticket)
                return Refused(
                    verdict.action,
                    ticket.state,
                    f"the ticket changed while {actor} acted (now {ticket.state}, owner "
                    f"{ticket.owner or 'none'}): someone else acted first",
                )
            s.expire(ticket)
            self._audit(
                s,
                ticket,
                TicketEvent(
                    at=now,
                    actor=actor,
                    action=verdict.action.value,
                    from_state=before,
                    to_state=to_state.value,
                    comment=comment,
                ),
            )
            return TicketView.of(ticket)

    def escalate_due(self, now: int) -> list[tuple[TicketView, str]]:
        """Escalate every breached SLA clock once: level up, audit row; returns what rose.

        Every worker and `yujing api` escalate on their own clock, so a breach is claimed
        by compare-and-set on the clocks already escalated, as outbox rows are leased: the
        process whose claim lands escalates it, the others leave it.
        """
        risen: list[tuple[TicketView, str]] = []
        with self.session() as s:
            active = [st.value for st in ACTIVE_STATES]
            for ticket in s.scalars(select(Ticket).where(Ticket.state.in_(active))).all():
                done = _escalated(ticket)
                breached = [
                    (clock, due)
                    for clock, due in breached_clocks(
                        now,
                        ticket.state,
                        ticket.acknowledge_by,
                        ticket.feedback_by,
                        ticket.first_feedback_at,
                        ticket.resolve_by,
                    )
                    if clock not in done
                ]
                level = ticket.escalation_level
                if not breached or not _claim(s, ticket, [clock for clock, _ in breached]):
                    continue
                for clock, due in breached:
                    level += 1
                    self._audit(
                        s,
                        ticket,
                        TicketEvent(
                            at=now,
                            actor=SYSTEM_ACTOR,
                            action="escalated",
                            from_state=ticket.state,
                            to_state=ticket.state,
                            comment=f"{clock} SLA breached (due {due}); level {level}",
                        ),
                    )
                    risen.append((TicketView.of(ticket), clock))
                s.flush()
        return risen

    def get(self, ticket_id: int) -> TicketView | None:
        if not 1 <= ticket_id <= MAX_ID:  # no such id (SQLite raised OverflowError)
            return None
        with self.session() as s:
            ticket = s.get(Ticket, ticket_id)
            return None if ticket is None else TicketView.of(ticket)

    def active_for(self, fingerprint: str) -> TicketView | None:
        """The fingerprint's active ticket, if any (one a person reopened, say)."""
        with self.session() as s:
            ticket = s.scalar(select(Ticket).where(Ticket.active_fingerprint == fingerprint))
            return None if ticket is None else TicketView.of(ticket)

    def by_key(self, key: str) -> TicketView | None:
        with self.session() as s:
            ticket = self._by_key(s, key)
            return None if ticket is None else TicketView.of(ticket)

    def sla_for(self, severity: str) -> SlaPolicy:
        return self.sla_by_severity.get(severity, self.sla)

    def all(self) -> list[TicketView]:
        with self.session() as s:
            return [TicketView.of(t) for t in s.scalars(select(Ticket).order_by(Ticket.id))]

    def first_fired(self, start: int, end: int) -> list[TicketView]:
        """Tickets whose first firing hour is in [start, end): a month's review."""
        with self.session() as s:
            q = select(Ticket).where(Ticket.first_hour >= start, Ticket.first_hour < end)
            return [TicketView.of(t) for t in s.scalars(q.order_by(Ticket.id))]

    def find(
        self,
        *,
        region: str | None = None,
        department: str | None = None,
        states: Sequence[str] | None = None,
        severity: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[list[TicketView], int]:
        """Filtered page of tickets, newest first, and the total that matched; ``states``:
        any of them (one, or the active ones)."""
        where = [
            column == value
            for column, value in (
                (Ticket.region, region),
                (Ticket.department, department),
                (Ticket.severity, severity),
            )
            if value is not None
        ]
        if states is not None:
            where.append(Ticket.state.in_(list(states)))
        with self.session() as s:
            total = s.scalar(select(func.count()).select_from(Ticket).where(*where)) or 0
            rows = s.scalars(
                select(Ticket).where(*where).order_by(Ticket.id.desc()).limit(limit).offset(offset)
            )
            return [TicketView.of(t) for t in rows], total

    def active(self) -> Sequence[TicketView]:
        with self.session() as s:
            rows = s.scalars(
                select(Ticket)
                .where(Ticket.state.in_([st.value for st in ACTIVE_STATES]))
                .order_by(Ticket.id)
            )
            return [TicketView.of(t) for t in rows]

    def ended(self) -> list[Ended]:
        """When each fingerprint's latest ended (resolved or closed) ticket last changed,
        apart for tickets a person ended: the policy's cooldowns start there (and, for a
        person's, the hold-back of the problem's findings), after a restart as before it."""
        ended_states = [TicketState.RESOLVED.value, TicketState.CLOSED.value]
        by_person = (
            select(TicketEvent.id)
            .where(
                TicketEvent.ticket_id == Ticket.id,
                TicketEvent.action.in_([Action.RESOLVE.value, Action.CLOSE.value]),
            )
            .exists()
        )
        columns = (Ticket.fingerprint, Ticket.region, Ticket.metric, Ticket.detector, by_person)
        with self.session() as s:
            rows = s.execute(
                select(*columns, func.max(Ticket.updated_at))
                .where(Ticket.state.in_(ended_states))
                .group_by(*columns)
            )
            return [Ended(*row[:5], int(row[5])) for row in rows]

    def events(self, ticket_id: int) -> list[dict[str, object]]:
        return self.events_of([ticket_id]).get(ticket_id, [])

    def events_of(self, ticket_ids: Sequence[int]) -> dict[int, list[dict[str, object]]]:
        """The audit trails of many tickets in one query (a month's review, each scrape)."""
        out: dict[int, list[dict[str, object]]] = {}
        with self.session() as s:
            for start in range(0, len(ticket_ids), 500):  # under every backend's bind limit
                rows = s.scalars(
                    select(TicketEvent)
                    .where(TicketEvent.ticket_id.in_(ticket_ids[start : start + 500]))
                    .order_by(TicketEvent.id)
                )
                for e in rows:
                    out.setdefault(e.ticket_id, []).append(
                        {
                            "at": e.at,
                            "actor": e.actor,
                            "action": e.action,
                            "from": e.from_state,
                            "to": e.to_state,
                            "comment": e.comment,
                        }
                    )
        return out

    def record_complaints(self, hours: Iterable[tuple[str, int, Mapping[str, int]]]) -> int:
        """Each judged hour's complaints per category (region, hour, counts) for the
        monthly review; an hour written again replaces its counts."""
        with self.session() as s:
            return volume.record(s, hours)

    def complaints(self, start: int, end: int) -> list[volume.Count]:
        with self.session() as s:
            return volume.read(s, start, end)

    def close(self) -> None:
        self.engine.dispose()
