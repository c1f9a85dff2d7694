"""Ticket life cycle: transitions, first-responder ownership, audit, SLA escalation."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from alerts.tickets.lifecycle import Refused
from alerts.tickets.store import TicketStore
from tests.domain import T0, finding

MIN = 60_000
from tests.domain import HOUR  # noqa: E402


@pytest.fixture
def store(db_url):
    s = TicketStore(db_url)
    yield s
    s.close()


def said(action: str) -> dict[str, str]:
    """What a person resolving says: the outcome (here a confirmed fault and its cause)."""
    return {"outcome": "confirmed_fault", "cause": "site_hardware"} if action == "resolve" else {}


def open_ticket(store, now=T0):
    ticket, created = store.open("k1", "fp1", finding(T0), now)
    assert created
    return ticket


def test_full_life_cycle_with_audit(store):
    t = open_ticket(store)
    steps = [
        ("acknowledge", "li.wei"),
        ("start", "li.wei"),
        ("comment", "li.wei"),
        ("resolve", "li.wei"),
        ("close", "li.wei"),
        ("reopen", "zhang.min"),
        ("acknowledge", "zhang.min"),
    ]
    states = []
    for k, (action, actor) in enumerate(steps):
        result = store.transition(t.id, action, actor, f"step {k}", T0 + k * MIN, **said(action))
        assert not isinstance(result, Refused), result
        states.append(result.state)
    assert states == [
        "acknowledged",
        "in_progress",
        "in_progress",
        "resolved",
        "closed",
        "open",
        "acknowledged",
    ]
    assert store.get(t.id).owner == "zhang.min"
    audit = store.events(t.id)
    assert [e["action"] for e in audit] == ["opened", *[a for a, _ in steps]]
    assert audit[1]["actor"] == "li.wei" and audit[1]["comment"] == "step 0"


def test_first_responder_owns_the_ticket(store):
    t = open_ticket(store)
    store.transition(t.id, "acknowledge", "li.wei", "", T0)
    second = store.transition(t.id, "acknowledge", "zhang.min", "", T0 + MIN)
    assert isinstance(second, Refused) and "acknowledged" in second.reason
    refused = store.transition(t.id, "resolve", "zhang.min", "", T0 + MIN)
    assert isinstance(refused, Refused) and "li.wei owns this ticket" in refused.reason
    assert not isinstance(store.transition(t.id, "comment", "zhang.min", "seen it", T0), Refused)


@pytest.mark.parametrize(
    ("setup", "action"),
    [
        ([], "resolve"),
        ([], "close"),
        ([("acknowledge", "a"), ("resolve", "a"), ("close", "a")], "resolve"),
        ([("acknowledge", "a")], "reopen"),
    ],
)
def test_forbidden_transitions_are_refused_with_a_reason(store, setup, action):
    t = open_ticket(store)
    for step, actor in setup:
        store.transition(t.id, step, actor, "", T0, **said(step))
    before = store.get(t.id).state
    refused = store.transition(t.id, action, "a", "", T0, **said(action))
    assert isinstance(refused, Refused) and f"cannot {action}" in refused.reason
    assert store.get(t.id).state == before


@pytest.mark.parametrize("meanwhile", ["escalates", "acknowledges"])
def test_a_breach_changed_under_an_escalation_is_left_to_what_changed_it(
    store, db_url, monkeypatch, meanwhile
):
    """Every worker and `yujing api` escalate on their own clock, and people act at any
    time: between one process reading the tickets and escalating them, another escalates
    the same breach or a person acknowledges it. Escalated once, or not at all."""
    from alerts.tickets import store as module

    t = open_ticket(store, now=T0)
    other = TicketStore(db_url)
    act = {
        "escalates": lambda: other.escalate_due(T0 + 15 * MIN),
        "acknowledges": lambda: other.transition(t.id, "acknowledge", "li.wei", "", T0),
    }[meanwhile]
    breached, acted = module.breached_clocks, []

    def other_acts_first(*args, **kwargs):
        if not acted:  # between this process's read and its write
            acted.append(meanwhile)
            with ThreadPoolExecutor(max_workers=1) as pool:
                pool.submit(act).result(timeout=30)
        return breached(*args, **kwargs)

    monkeypatch.setattr(module, "breached_clocks", other_acts_first)
    assert store.escalate_due(T0 + 15 * MIN) == []
    other.close()
    escalations = 1 if meanwhile == "escalates" else 0
    assert store.get(t.id).escalation_level == escalations
    assert [e["action"] for e in store.events(t.id)].count("escalated") == escalations


def test_unacknowledged_ticket_escalates_once_not_twice(store):
    t = open_ticket(store, now=T0)
    assert store.escalate_due(T0 + 14 * MIN) == []
    risen = store.escalate_due(T0 + 15 * MIN)
    assert [(v.id, clock) for v, clock in risen] == [(t.id, "acknowledge")]
    assert store.escalate_due(T0 + 20 * MIN) == []  # same breach: no second escalation
    assert store.get(t.id).escalation_level == 1
    assert [e["action"] for e in store.events(t.id)].count("escalated") == 1


def test_feedback_and_resolution_clocks(store):
    t = open_ticket(store, now=T0)
    store.transition(t.id, "acknowledge", "li.wei", "", T0 + 5 * MIN)
    assert store.escalate_due(T0 + 23 * HOUR) == []
    assert [c for _, c in store.escalate_due(T0 + 24 * HOUR)] == ["feedback"]
    store.transition(t.id, "comment", "li.wei", "site visit booked", T0 + 25 * HOUR)
    assert [c for _, c in store.escalate_due(T0 + 72 * HOUR)] == ["resolve"]
    assert store.get(t.id).escalation_level == 2


def test_a_person_resolving_starts_the_cooldown(tmp_path, sqlite_url):
    from alerts.policy.notifiers import MemoryNotifier
    from alerts.policy.service import AlertService
    from alerts.policy.settings import AlertSettings
    from tests.domain import run_hours

    store = TicketStore(sqlite_url)
    svc = AlertService(
        store=store, notifier=MemoryNotifier(), settings=AlertSettings(cooldown_hours=24)
    )
    run_hours(svc, T0, 2, firing_hours={0, 1})
    (t,) = store.all()
    store.transition(t.id, "acknowledge", "li.wei", "", T0 + 2 * HOUR)
    store.transition(
        t.id, "resolve", "li.wei", "replaced the card", T0 + 3 * HOUR, **said("resolve")
    )
    run_hours(svc, T0 + 3 * HOUR, 10, firing_hours=set(range(10)))  # within cooldown
    assert len(store.all()) == 1 and svc.stats.suppressed >= 9
    run_hours(svc, T0 + 40 * HOUR, 1, firing_hours={0}, span=1)  # after cooldown: a new ticket
    assert len(store.all()) == 2


@pytest.mark.parametrize("resolved_by", ["person", "auto_resolve"])
def test_a_restarted_worker_keeps_the_cooldown(tmp_path, resolved_by, db_url):
    """Restore rebuilds cooldowns from ended tickets: a restart (or a rebalance) inside a
    cooldown opens no ticket, and one after it does."""
    from alerts.policy.notifiers import MemoryNotifier
    from alerts.policy.service import AlertService
    from alerts.policy.settings import AlertSettings
    from tests.domain import run_hours

    settings = AlertSettings(
        clear_after_hours=2, cooldown_hours=24, auto_resolve=resolved_by == "auto_resolve"
    )
    store = TicketStore(db_url)
    first = AlertService(store=store, notifier=MemoryNotifier(), settings=settings)
    run_hours(first, T0, 5, firing_hours={0, 1})
    (t,) = store.all()
    if resolved_by == "person":
        store.transition(t.id, "acknowledge", "li.wei", "", T0 + 2 * HOUR)
        store.transition(
            t.id, "resolve", "li.wei", "replaced the card", T0 + 3 * HOUR, **said("resolve")
        )
    assert store.get(t.id).state == "resolved"

    restarted = AlertService(store=store, notifier=MemoryNotifier(), settings=settings)
    run_hours(restarted, T0 + 10 * HOUR, 5, firing_hours=set(range(5)))  # inside cooldown
    assert len(store.all()) == 1 and restarted.stats.suppressed == 5
    # past the cooldown, a week-over-week finding is still on the week resolved on: held
    # back if a person resolved it, a new episode if it resolved itself
    run_hours(restarted, T0 + 30 * HOUR, 1, firing_hours={0})
    held = resolved_by == "person"
    assert len(store.all()) == (1 if held else 2) and restarted.stats.suppressed == 5 + held
    run_hours(restarted, T0 + 40 * HOUR, 1, firing_hours={0}, span=1)  # evidence after
    assert len(store.all()) == 2  # opened by it, or joining the new episode


def test_resolving_says_what_the_ticket_turned_out_to_be(store):
    t = open_ticket(store)
    store.transition(t.id, "acknowledge", "li.wei", "", T0)
    for outcome, cause, why in (
        (None, None, "resolving needs an outcome: one of confirmed_fault, false_alarm"),
        ("confirmed_fault", None, "a confirmed fault needs its cause: one of site_hardware"),
        ("bogus", None, "unknown outcome 'bogus'"),
        ("false_alarm", "capacity", "a cause belongs to a confirmed fault"),
    ):
        refused = store.transition(t.id, "resolve", "li.wei", "", T0, outcome, cause)
        assert isinstance(refused, Refused) and why in refused.reason, refused
    done = store.transition(t.id, "resolve", "li.wei", "swapped", T0 + MIN, "confirmed_fault",
                            "capacity")  # fmt: skip
    assert not isinstance(done, Refused)
    assert (done.state, done.outcome, done.cause) == ("resolved", "confirmed_fault", "capacity")
    assert store.events(t.id)[-1]["comment"] == "outcome: confirmed_fault (capacity); swapped"
    reopened = store.transition(t.id, "reopen", "zhang.min", "back", T0 + 2 * MIN)
    assert not isinstance(reopened, Refused) and reopened.outcome is None


def test_an_automatic_resolve_records_the_configured_outcome(sqlite_url):
    from alerts.policy.notifiers import MemoryNotifier
    from alerts.policy.service import AlertService
    from alerts.policy.settings import AlertSettings
    from tests.domain import run_hours

    store = TicketStore(sqlite_url)
    settings = AlertSettings(
        clear_after_hours=2, auto_resolve=True, auto_resolve_outcome="false_alarm"
    )
    svc = AlertService(store=store, notifier=MemoryNotifier(), settings=settings)
    run_hours(svc, T0, 6, firing_hours={0, 1})
    (t,) = store.all()
    assert (t.state, t.outcome) == ("resolved", "false_alarm")
    store.close()


def test_a_months_outcomes_become_backtest_labels(tmp_path):
    """Confirmed faults are incidents on their series over the hours they fired; false
    alarms are listed; other months and other outcomes are left out."""
    import os
    import subprocess
    import sys

    import orjson

    from monitor.lab.labels import read_any

    url = f"sqlite:///{tmp_path / 't.db'}"
    store = TicketStore(url)
    # T0 is 2027-01-15 16:00 +08:00
    verdicts = [("r1", "confirmed_fault", "capacity"), ("r2", "false_alarm", None),
                ("r3", "duplicate", None), ("r4", None, None)]  # fmt: skip
    for k, (region, outcome, cause) in enumerate(verdicts):
        t, _ = store.open(f"k{k}", f"fp{k}", finding(T0, region=region), T0)
        store.record_finding(f"k{k}", finding(T0 + 2 * HOUR, region=region), T0, False)
        if outcome:
            store.transition(t.id, "acknowledge", "li.wei", "", T0)
            store.transition(t.id, "resolve", "li.wei", "", T0, outcome, cause)
    store.close()

    def export(month: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor.cli", "tickets", "export-labels", "--month", month,
             "--db", url, "--out", str(tmp_path / f"{month}.json")],
            capture_output=True, text=True, timeout=120, check=False, env={**os.environ},
        )  # fmt: skip

    done = export("2027-01")
    assert done.returncode == 0, done.stderr
    assert "1 confirmed fault, 1 false alarm of 2027-01" in done.stderr
    doc = orjson.loads((tmp_path / "2027-01.json").read_bytes())
    assert [a["region"] for a in doc["false_alarms"]] == ["r2"]
    (label,) = read_any(tmp_path / "2027-01.json")
    assert (label.region, label.kind, label.start, label.end) == (
        "r1", "capacity", T0, T0 + 3 * HOUR - 1,
    )  # fmt: skip
    assert export("2026-12").returncode == 0
    assert orjson.loads((tmp_path / "2026-12.json").read_bytes())["incidents"] == []
    bad = export("October")
    assert bad.returncode == 2 and "expected YYYY-MM" in bad.stderr


@pytest.mark.parametrize("ticket_id", [0, -1, 2**31, 10**20])
def test_an_id_no_ticket_can_have_is_no_ticket(store, ticket_id):
    """``tickets show 99999999999999999999`` ended in SQLite's OverflowError."""
    assert store.get(ticket_id) is None
    refused = store.transition(ticket_id, "acknowledge", "li.wei", "", T0)
    assert isinstance(refused, Refused) and refused.reason == f"no ticket {ticket_id}"


def test_an_empty_comment_is_refused_and_stops_no_clock(store):
    """``tickets comment 1 --as li.wei --comment ''`` was taken: the owner's first
    comment stops the 24-hour feedback clock, and this one said nothing."""
    t = open_ticket(store)
    store.transition(t.id, "acknowledge", "li.wei", "", T0 + MIN)
    for blank in ("", "   \n"):
        refused = store.transition(t.id, "comment", "li.wei", blank, T0 + 2 * MIN)
        assert isinstance(refused, Refused) and "needs text" in refused.reason
    assert store.get(t.id).first_feedback_at is None
    assert [e["action"] for e in store.events(t.id)] == ["opened", "acknowledge"]


@pytest.mark.parametrize(
    ("actor", "comment", "says"),
    [
        ("li.wei", "done \x1b[2J\x1b]0;pwned\x07", "U+001B at character 6"),  # clear, title
        ("li.wei", "ok\rall fine", "U+000D at character 3"),  # a line overwritten
        ("li.wei", "csi \x9b2J", "U+009B"),  # the C1 form of ESC [
        ("li.wei", "x" * 4001, "at most 4,000 characters"),
        ("x\x1b[8m", "hi", "a name cannot hold control characters"),
        ("li\nwei", "hi", "a name cannot hold control characters"),
        ("  ", "hi", "who acts needs a name"),
        ("x" * 65, "hi", "a name is at most 64 characters"),
    ],
)
def test_text_a_terminal_would_obey_is_refused(store, actor, comment, says):
    """``tickets show`` printed a comment's escape sequences raw to on-call's terminal:
    ``--comment $'\\x1b[2J'`` cleared the screen of whoever read the ticket next."""
    t = open_ticket(store)
    refused = store.transition(t.id, "comment", actor, comment, T0 + MIN)
    assert isinstance(refused, Refused) and says in refused.reason, refused
    assert [e["action"] for e in store.events(t.id)] == ["opened"]


def test_line_breaks_tabs_and_any_script_are_text(store):
    t = open_ticket(store)
    for comment in ("line one\nline two\tcolumn", "windows line\r\nbreak", "基站掉线，已派单"):
        done = store.transition(t.id, "comment", "李伟", comment, T0 + MIN)
        assert not isinstance(done, Refused), done
    assert store.events(t.id)[-1]["comment"] == "基站掉线，已派单"


def test_a_person_resolving_while_the_anomaly_clears_keeps_their_outcome(store, db_url):
    """The policy's auto_resolve and a person act on the same ticket at once: the
    person's outcome (what the monthly review counts) is not overwritten by the
    automatic one, and the recovery is still recorded."""
    from sqlalchemy import event

    t = open_ticket(store, now=T0)
    person = TicketStore(db_url)
    acted: list[str] = []

    def person_resolves_first(_conn, _cursor, statement, *_args) -> None:
        if statement.lstrip().upper().startswith("UPDATE TICKETS") and not acted:
            acted.append("resolve")  # between the store reading the ticket and writing it
            with ThreadPoolExecutor(max_workers=1) as pool:
                for step in ("acknowledge", "resolve"):
                    done = pool.submit(
                        person.transition, t.id, step, "li.wei", "", T0 + MIN, **said(step)
                    ).result(timeout=30)
                    assert not isinstance(done, Refused), done

    event.listen(store.engine, "before_cursor_execute", person_resolves_first)
    store.mark_recovered("k1", T0 + 2 * MIN, resolve=True)
    person.close()
    after = store.get(t.id)
    assert (after.state, after.outcome, after.cause) == (
        "resolved",
        "confirmed_fault",
        "site_hardware",
    )
    assert after.recovered_at == T0 + 2 * MIN
    trail = [(e["action"], e["from"], e["to"]) for e in store.events(t.id)]
    assert trail[-1] == ("recovered", "resolved", "resolved")
