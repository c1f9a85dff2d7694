"""Alert policy and tickets: one incident one ticket, cooldown, routing, SLA due times."""

from concurrent.futures import ThreadPoolExecutor

import pytest

from alerts.policy.fingerprint import fingerprint, ticket_key
from alerts.policy.notifiers import MemoryNotifier
from alerts.policy.service import AlertService
from alerts.policy.settings import AlertSettings
from alerts.sla import due_times
from alerts.taxonomy import Department, department_for
from alerts.tickets.store import TicketStore
from tests.domain import HOUR, MIN, T0, finding, run_hours, tick

MENDED = {"outcome": "confirmed_fault", "cause": "site_hardware"}  # what resolving says


@pytest.fixture
def service(db_url):
    store = TicketStore(db_url)
    notifier = MemoryNotifier()
    svc = AlertService(
        store=store,
        notifier=notifier,
        settings=AlertSettings(clear_after_hours=6, cooldown_hours=24),
    )
    yield svc
    store.close()


def test_one_incident_one_ticket(service):
    run_hours(service, T0, 48, firing_hours=set(range(5, 30)))
    tickets = service.store.all()
    assert len(tickets) == 1
    t = tickets[0]
    assert t.occurrences == 25
    assert t.first_hour == T0 + 5 * HOUR and t.last_fired_hour == T0 + 29 * HOUR
    assert t.recovered_at == T0 + 36 * HOUR  # 6 quiet hours after the last finding
    assert [n.event for n in service.notifier.sent] == ["opened", "recovered"]


def test_flapping_finding_updates_the_same_open_ticket(service):
    run_hours(service, T0, 72, firing_hours={1, 2, 20, 21, 50})
    assert len(service.store.all()) == 1
    actions = [e["action"] for e in service.store.events(service.store.all()[0].id)]
    assert actions.count("refired") == 2 and actions.count("recovered") == 3


def test_a_daily_detector_does_not_recover_every_night(service):
    """An evening capacity shortage fires at the close of each day's peak: the quiet
    hours between two evenings are no recovery (the demo's ticket said recovered and
    refired every day)."""
    evenings = {22, 46, 70}
    run_hours(service, T0, 24 * 4 + 12, evenings, detector="peak_congestion")
    (ticket,) = service.store.all()
    assert [n.event for n in service.notifier.sent] == ["opened", "recovered"]
    # recovered after its next judgement passed without a finding, plus the quiet hours
    assert ticket.recovered_at == T0 + (70 + 24 + 6) * HOUR


def test_a_ticket_a_person_resolved_recovers_without_a_message(service):
    """On-call resolved the ticket at 21:00 and was paged again hours later: "recovered",
    for a ticket nobody works any more. The recovery is audited; no message goes out."""
    run_hours(service, T0, 20, firing_hours=set(range(5, 15)))
    (ticket,) = service.store.all()
    service.store.transition(ticket.id, "acknowledge", "li.wei", "", T0 + 16 * HOUR)
    service.store.transition(ticket.id, "resolve", "li.wei", "", T0 + 17 * HOUR, **MENDED)
    run_hours(service, T0 + 20 * HOUR, 28, firing_hours=set())
    (after,) = service.store.all()
    assert after.recovered_at is not None and after.outcome == "confirmed_fault"
    assert [e["action"] for e in service.store.events(ticket.id)][-1] == "recovered"
    assert [n.event for n in service.notifier.sent] == ["opened"]
    assert service.stats.recovered == 1


def test_a_recovery_says_how_long_it_was_quiet_and_the_value_now(service):
    """A recovered message carried the last finding's figures as if current."""
    service.reading = lambda region, metric, hour: 101.25 if hour == T0 + 35 * HOUR else None
    run_hours(service, T0, 48, firing_hours=set(range(5, 30)))
    (ticket,) = service.store.all()
    said = [e["comment"] for e in service.store.events(ticket.id) if e["action"] == "recovered"]
    assert said == ["anomaly cleared: no finding for 6 h; complaints.broadband_lag now 101"]


def test_a_joining_finding_of_another_metric_keeps_the_tickets_figures(service):
    """The demo's billing ticket, on complaint counts, showed the rate's 0.896 against a
    rate limit of 0.8 under the count's name."""
    from dataclasses import replace

    service.handle(tick(T0, finding(T0, metric="complaints.billing_dispute")), now=T0)
    rate = finding(T0 + HOUR, metric="complaint_rate.billing_dispute", observed=0.9)
    rate = replace(rate, finding=replace(rate.finding, baseline=0.0, explanation="the rate"))
    service.handle(tick(T0 + HOUR, rate), now=T0 + HOUR)
    (ticket,) = service.store.all()
    assert ticket.metric == "complaints.billing_dispute"
    assert (ticket.observed, ticket.baseline) == (130.0, 100.0)
    assert ticket.explanation != "the rate"
    assert (ticket.last_fired_hour, ticket.occurrences) == (T0 + HOUR, 2)


def test_distinct_fingerprints_get_distinct_tickets(service):
    hour = T0
    service.handle(
        tick(
            hour,
            finding(hour, region="r1"),
            finding(hour, region="r2"),
            finding(hour, metric="complaints.unclear_terms"),
            finding(hour, detector="threshold"),
        ),
        now=hour,
    )
    # region, metric: three problems; the threshold finding joins r1's broadband ticket
    assert len(service.store.all()) == 3


def test_cooldown_after_resolve_suppresses_then_allows(tmp_path, sqlite_url):
    store = TicketStore(sqlite_url)
    svc = AlertService(
        store=store,
        notifier=MemoryNotifier(),
        settings=AlertSettings(clear_after_hours=2, cooldown_hours=24, auto_resolve=True),
    )
    run_hours(svc, T0, 10, firing_hours={0, 1})  # recovers and auto-resolves at hour 3
    assert [t.state for t in store.all()] == ["resolved"]
    run_hours(svc, T0 + 10 * HOUR, 5, firing_hours={0, 1, 2, 3, 4})  # inside cooldown
    assert len(store.all()) == 1 and svc.stats.suppressed == 5
    # cooldown over: nobody dealt with the week it resolved on, so it is a new episode
    run_hours(svc, T0 + 40 * HOUR, 1, firing_hours={0})
    assert len(store.all()) == 2


def test_a_resolved_problem_is_not_raised_again_on_the_evidence_it_was_resolved_on(service):
    """The demo's site fault, resolved when the site was mended: 2 hours later a
    week-over-week finding on the region's broadband complaints (a detector that had only
    joined the ticket, so its fingerprint had no cooldown) opened a second ticket on the
    same 7 days, and a day later a third."""
    store = service.store
    run_hours(service, T0, 3, {0, 1, 2}, detector="site_fault", span=24)
    (t,) = store.all()
    run_hours(service, T0 + 3 * HOUR, 2, {0, 1})  # wow on the same complaints: joins it
    store.transition(t.id, "acknowledge", "li.wei", "", T0 + 5 * HOUR)
    resolved = T0 + 6 * HOUR
    store.transition(t.id, "resolve", "li.wei", "new card", resolved, **MENDED)
    # hourly, for a week: each window holds hours from before the resolution
    run_hours(service, resolved, 167, set(range(167)))
    # the first reaches the ticket, and the store says it was resolved: then held back
    assert len(store.all()) == 1 and service.stats.suppressed == 166
    held = [a for a in service.policy.on_tick(tick(resolved + 30 * HOUR, finding(
        resolved + 30 * HOUR)))]  # fmt: skip
    assert held[0].cooldown_until == resolved + 167 * HOUR  # its window starts at the end
    run_hours(service, resolved + 167 * HOUR, 1, {0})  # evidence after the end only
    assert len(store.all()) == 2


def test_a_reopened_ticket_takes_its_findings_again(service):
    """A person who reopens a resolved ticket says the problem is back. Its findings went
    to the cooldown instead (and, since the hold-back, for up to a week's window)."""
    store = service.store
    run_hours(service, T0, 3, {0, 1, 2})
    (t,) = store.all()
    store.transition(t.id, "acknowledge", "li.wei", "", T0 + 3 * HOUR)
    store.transition(t.id, "resolve", "li.wei", "fixed", T0 + 3 * HOUR, **MENDED)
    run_hours(service, T0 + 3 * HOUR, 2, {0, 1})  # the first tells the policy; held back
    assert service.stats.suppressed == 1
    store.transition(t.id, "reopen", "zhang.min", "back again", T0 + 5 * HOUR)
    run_hours(service, T0 + 5 * HOUR, 3, {0, 1, 2})
    (again,) = store.all()
    assert (again.state, again.last_fired_hour) == ("open", T0 + 7 * HOUR)
    assert service.stats.suppressed == 1
    run_hours(service, T0 + 8 * HOUR, 1, {0}, metric="complaint_rate.broadband_lag")
    assert len(store.all()) == 1  # its problem's other series join it again


def test_a_short_window_finds_a_fault_that_is_still_there(service):
    """Resolving holds back only what the resolved ticket was based on: a detector over
    the last hour, still firing once the cooldown is over, opens a ticket."""
    store = service.store
    run_hours(service, T0, 2, {0, 1}, detector="threshold", span=1)
    (t,) = store.all()
    store.transition(t.id, "acknowledge", "li.wei", "", T0 + 2 * HOUR)
    store.transition(t.id, "resolve", "li.wei", "reset", T0 + 2 * HOUR, **MENDED)
    run_hours(service, T0 + 2 * HOUR, 30, set(range(30)), detector="threshold", span=1)
    assert len(store.all()) == 2
    assert store.all()[1].first_hour == T0 + 26 * HOUR  # the cooldown of 24 hours


def test_restart_keeps_deduplicating(tmp_path, sqlite_url):
    url = sqlite_url
    first = AlertService(
        store=TicketStore(url), notifier=MemoryNotifier(), settings=AlertSettings()
    )
    run_hours(first, T0, 3, firing_hours={0, 1, 2})
    second = AlertService(
        store=TicketStore(url), notifier=MemoryNotifier(), settings=AlertSettings()
    )
    run_hours(second, T0 + 3 * HOUR, 3, firing_hours={0, 1, 2})
    assert len(second.store.all()) == 1
    assert second.store.all()[0].occurrences == 6


def test_a_batch_is_its_own_threads_transaction(service):
    """A worker escalates on a housekeeping thread while its pipeline thread holds a
    catch-up's batch open: the escalation reads in a transaction of its own (it used the
    batch's session, and crashed the worker when the batch ended and closed it)."""
    store = service.store
    with store.batch():
        run_hours(service, T0, 3, firing_hours={0, 1, 2})
        with ThreadPoolExecutor(max_workers=1) as other:
            assert other.submit(store.all).result(timeout=30) == []  # not committed yet
            assert other.submit(store.escalate_due, T0 + 9 * 24 * HOUR).result(30) == []
    assert len(store.all()) == 1


def test_replaying_an_hour_opens_nothing_new(service):
    run_hours(service, T0, 2, firing_hours={0, 1})
    key = service.store.all()[0].key
    again, created = service.store.open(key, "fp", finding(T0), now=T0)
    assert not created and again.key == key


def test_ticket_routing_and_sla_due_times(service):
    hour = T0
    cases = {
        "complaints.broadband_lag": Department.NETWORK_MAINTENANCE,
        "complaints.weak_signal": Department.NETWORK_MAINTENANCE,
        "complaint_rate.billing_dispute": Department.BILLING,
        "complaints.install_repair_timeout": Department.FIELD_SERVICE,
        "complaints.unclear_terms": Department.SERVICE_COORDINATOR,
        "complaints.total": Department.SERVICE_COORDINATOR,
        "kpi.packet_loss.mean": Department.NETWORK_MAINTENANCE,
    }
    now = hour + HOUR
    findings = [finding(hour, region=f"r{i}", metric=m) for i, m in enumerate(cases)]
    service.handle(tick(hour, *findings), now=now)
    tickets = {t.metric: t for t in service.store.all()}
    for metric, department in cases.items():
        t = tickets[metric]
        assert t.department == department.value, metric
        assert t.acknowledge_by - t.opened_at == 15 * MIN
        assert t.feedback_by - t.opened_at == 24 * 60 * MIN
        assert t.resolve_by - t.opened_at == 72 * 60 * MIN
        assert department_for(metric) is department


def test_sla_arithmetic():
    due = due_times(0)
    assert (due.acknowledge_by, due.feedback_by, due.resolve_by) == (15 * MIN, 24 * HOUR, 72 * HOUR)


def test_fingerprints_are_stable_and_distinct():
    a = fingerprint("r1", "complaints.broadband_lag", "wow")
    assert a == fingerprint("r1", "complaints.broadband_lag", "wow")
    assert a != fingerprint("r1", "complaints.broadband_lag", "threshold")
    assert a != fingerprint("r2", "complaints.broadband_lag", "wow")
    assert ticket_key(a, T0) == ticket_key(a, T0)


def test_audit_trail_records_open(service):
    run_hours(service, T0, 1, firing_hours={0})
    (event,) = service.store.events(service.store.all()[0].id)
    assert event["action"] == "opened" and event["actor"] == "yujing"
    assert event["to"] == "open"


def test_a_second_worker_with_stale_state_adopts_the_open_ticket(tmp_path, sqlite_url):
    url = sqlite_url
    stale = AlertService(
        store=TicketStore(url), notifier=MemoryNotifier(), settings=AlertSettings()
    )  # started before any ticket existed
    owner = AlertService(
        store=TicketStore(url), notifier=MemoryNotifier(), settings=AlertSettings()
    )
    run_hours(owner, T0, 2, firing_hours={0, 1})
    # a rebalance moves the region to the stale worker, which fires on the next hour
    run_hours(stale, T0 + 2 * HOUR, 2, firing_hours={0, 1})
    (ticket,) = owner.store.all()
    assert ticket.occurrences == 4
    assert stale.notifier.sent == []


def test_another_detector_on_the_same_series_joins_the_open_ticket(service):
    run_hours(service, T0, 3, firing_hours={0, 1, 2}, detector="early_trend")
    run_hours(service, T0 + 3 * HOUR, 3, firing_hours={0, 1, 2}, detector="wow")
    run_hours(service, T0 + 6 * HOUR, 2, firing_hours={0, 1}, metric="complaints.unclear_terms")
    # weak signal is the same region's network problem as broadband lag: it joins too
    run_hours(service, T0 + 8 * HOUR, 2, firing_hours={0, 1}, metric="complaints.weak_signal")
    tickets = service.store.all()
    assert [(t.metric, t.detector, t.occurrences) for t in tickets] == [
        ("complaints.broadband_lag", "early_trend", 8),
        ("complaints.unclear_terms", "wow", 2),
    ]


def test_a_fault_does_not_join_a_capacity_ticket_on_the_same_series(service):
    """A month of hot evenings kept a capacity ticket open on a region's broadband lag;
    a failing site's finding on that series joined it, and the ticket told the site
    fault as "capacity shortage, not a fault" under a capacity plan. Each keeps its own
    ticket; the fault joins the region's network ticket, and a capacity finding does
    not join a fault's."""
    run_hours(service, T0, 2, firing_hours={0}, detector="peak_congestion")
    run_hours(service, T0 + 2 * HOUR, 2, firing_hours={0, 1}, detector="site_fault")
    run_hours(service, T0 + 4 * HOUR, 2, firing_hours={0}, metric="complaints.weak_signal")
    run_hours(service, T0 + 6 * HOUR, 2, firing_hours={0}, detector="peak_congestion")
    tickets = service.store.all()
    assert [(t.metric, t.detector, t.occurrences) for t in tickets] == [
        ("complaints.broadband_lag", "peak_congestion", 2),
        ("complaints.broadband_lag", "site_fault", 3),
    ]


def test_a_drop_and_a_burst_of_one_series_keep_their_own_tickets(service):
    """A drop opened a ticket on a Twitter volume's third day, and five bursts of
    mentions re-fired it under the drop's title. A collapse of complaint intake
    is the hotline's or the feed's problem, a burst of complaints the cause's: each keeps
    its own ticket. A dead site's traffic (a drop of a KPI) is still the region's network
    problem."""
    total = {"metric": "complaints.total"}
    run_hours(service, T0, 2, firing_hours={0}, detector="drop", **total)
    run_hours(service, T0 + 2 * HOUR, 2, firing_hours={0, 1}, detector="burst", **total)
    run_hours(service, T0 + 4 * HOUR, 2, firing_hours={0}, detector="drop", **total)
    run_hours(service, T0 + 6 * HOUR, 1, firing_hours={0}, detector="site_fault")
    bandwidth = {"metric": "kpi.bandwidth_utilisation.mean"}
    run_hours(service, T0 + 7 * HOUR, 1, firing_hours={0}, detector="drop", **bandwidth)
    tickets = service.store.all()
    assert [(t.metric, t.detector, t.occurrences) for t in tickets] == [
        ("complaints.total", "drop", 2),
        ("complaints.total", "burst", 2),
        ("complaints.broadband_lag", "site_fault", 2),
    ]


def test_routing_table_from_config_overrides_the_defaults(db_url):
    from monitor.config.load import parse_config

    config = parse_config("""
alerts:
  routing:
    unclear_terms: billing        # tariff wording is owned by billing here
    kpi: network_maintenance
""")
    store = TicketStore(db_url)
    svc = AlertService(store=store, notifier=MemoryNotifier(), settings=config.alerts)
    hour = T0
    svc.handle(
        tick(
            hour,
            finding(hour, metric="complaints.unclear_terms"),
            finding(hour, metric="complaints.unkept_promise"),
        ),
        now=hour,
    )
    departments = {t.metric: t.department for t in store.all()}
    assert departments == {
        "complaints.unclear_terms": "billing",
        "complaints.unkept_promise": "service_coordinator",
    }
    store.close()


def test_routing_table_rejects_unknown_keys_and_departments():
    from monitor.config.checks import ConfigError
    from monitor.config.load import parse_config

    with pytest.raises(ConfigError) as info:
        parse_config("alerts:\n  routing:\n    weather: billing\n", "r.yaml")
    assert info.value.messages[0].startswith(
        "r.yaml:3: alerts.routing.weather: unknown routing key 'weather'"
    )
    with pytest.raises(ConfigError) as info:
        parse_config("alerts:\n  routing:\n    billing_dispute: accounting\n", "r.yaml")
    assert "alerts.routing.billing_dispute" in info.value.messages[0]


def test_a_threshold_ticket_states_observed_limit_and_normal_level_apart(service):
    """Packet loss 1.21% against a limit of 1.0% where ~0.2% is normal must not read
    "+21%" (the old message measured the change against the limit)."""
    import numpy as np

    from alerts.findings import Severity, SpecFinding
    from alerts.notify.messages import build_payload, subject, text
    from alerts.notify.settings import Links
    from detectors import SeriesKey, SeriesWindow, ThresholdDetector

    values = np.full(200, 0.2)
    values[-1] = 1.21
    detector = ThresholdDetector(ThresholdDetector.config_model(threshold=1.0))
    window = SeriesWindow([SeriesKey("r1", "kpi.packet_loss.mean")], values[None, :], T0)
    [found] = detector.evaluate(window)
    service.handle(tick(T0, SpecFinding("loss", Severity.MAJOR, found)), now=T0 + HOUR)
    [ticket] = service.store.all()
    assert (ticket.observed, ticket.limit_value, ticket.baseline) == (1.21, 1.0, 0.2)
    assert ticket.title == "Inspect r1: kpi.packet_loss.mean (threshold)"
    payload = build_payload(
        ticket.to_json(), "opened", "yujing", "", T0, Links(), "+08:00", unit="%"
    )
    assert "Observed: 1.21 % (limit 1.0 %, normal ~0.2 %)" in text(payload)
    assert subject(payload).endswith("kpi.packet_loss.mean (1.21 %, limit 1.0 %)")
    assert "+21%" not in text(payload)
    # T0 is 2027-01-15 08:00 UTC: on-call reads the operator's clock, with its offset
    assert "First fired 2027-01-15 16:00 +08:00" in text(payload)


def test_sla_clocks_per_severity_and_severity_rises_with_what_joins(db_url):
    from dataclasses import replace

    from alerts.findings import Severity

    store = TicketStore(db_url)
    settings = AlertSettings(
        clear_after_hours=6, sla={"minor": {"acknowledge_minutes": 60, "feedback_hours": 48}}
    )
    svc = AlertService(store=store, notifier=MemoryNotifier(), settings=settings)
    minor = replace(finding(T0), severity=Severity.MINOR)
    svc.handle(tick(T0, minor), now=T0)
    [ticket] = store.all()
    assert ticket.severity == "minor"
    assert ticket.acknowledge_by == T0 + 60 * MIN and ticket.feedback_by == T0 + 48 * HOUR
    assert ticket.resolve_by == T0 + 72 * HOUR, "unset clocks keep the service policy"
    svc.handle(tick(T0 + HOUR, finding(T0 + HOUR)), now=T0 + HOUR)  # a major joins
    [ticket] = store.all()
    assert ticket.severity == "major"
    store.close()


def test_sla_clocks_name_known_severities():
    with pytest.raises(ValueError, match="'critical', 'major', 'minor' or 'warning'"):
        AlertSettings(sla={"urgent": {"acknowledge_minutes": 5}})


def test_tickets_list_at_80_columns_keeps_regions_metrics_and_due_times_whole(tmp_path):
    import os
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 't.db'}"
    store = TicketStore(url)
    svc = AlertService(store=store, notifier=MemoryNotifier(), settings=AlertSettings())
    for i, region in enumerate(("guangzhou-tianhe-0042", "north-01")):
        hour = T0 + i * HOUR
        metric = "complaints.install_repair_timeout"
        svc.handle(tick(hour, finding(hour, region=region, metric=metric)), now=hour)
    store.transition(2, "acknowledge", "li.wei", "", T0 + HOUR + 5 * MIN)
    store.close()

    def tickets(*args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "COLUMNS": "80"}
        return subprocess.run(
            [sys.executable, "-m", "monitor.cli", "tickets", "list", "--db", url, *args],
            capture_output=True, text=True, timeout=120, check=False, env=env,
        )  # fmt: skip

    done = tickets()
    assert done.returncode == 0, done.stderr
    assert max(len(line) for line in done.stdout.splitlines()) <= 80
    assert "guangzhou-tianhe-0042" in done.stdout and "north-01" in done.stdout
    # a metric too long for its column folds after its dot, never inside a name (it was
    # "complaints.install_repair_" above "timeout")
    assert "install_repair_timeout" in done.stdout, done.stdout
    assert "01-15 16:15" in done.stdout  # T0 + 15 min, in the default zone (+08:00)
    # the next clock still running: ticket 2 was acknowledged, so its deadline to respond
    # (17:15) is not shown; its first feedback is due 24 h after it opened. The clocks are
    # named as a message and the ticket's page name them (DUE_WORDS)
    assert "acknowledge by" in done.stdout and "first feedback by" in done.stdout
    assert "respond by" not in done.stdout
    assert "01-15 17:15" not in done.stdout and "01-16 17:00" in done.stdout
    assert "times in +08:00" in done.stdout
    bogus = tickets("--state", "bogus")
    assert bogus.returncode == 2 and "none of open, acknowledged" in bogus.stderr
    assert "north-01" not in tickets("--region", "guangzhou-tianhe-0042").stdout
    newest = tickets("--limit", "1")  # a year of tickets does not fill the screen
    assert "north-01" in newest.stdout and "guangzhou" not in newest.stdout
    assert "newest 1 of 2" in newest.stdout
    assert "1 older not shown: --limit 2 shows them all." in newest.stdout


def test_messages_say_what_to_do_and_link_the_specs_runbook(db_url):
    from alerts.notify.messages import build_payload, slack, text
    from monitor.config.load import parse_config

    config = parse_config(
        "detectors:\n"
        "  - {id: lag-wow, detector: wow, metrics: [complaints.broadband_lag],\n"
        "     runbook: 'https://wiki.example/noc/broadband-lag'}\n",
        "r.yaml",
    )
    assert config.notifications.runbooks == {"lag-wow": "https://wiki.example/noc/broadband-lag"}
    store = TicketStore(db_url, notifications=config.notifications)
    ticket, _ = store.open("k1", "fp1", finding(T0), T0)
    payload = build_payload(
        ticket.to_json() | {"spec_id": "lag-wow"}, "opened", "yujing", "", T0,
        config.notifications.links, config.timezone,
        config.notifications.runbooks["lag-wow"],
    )  # fmt: skip
    message = text(payload)
    assert "Action: Inspect the region's sites" in message
    assert "Runbook: https://wiki.example/noc/broadband-lag" in message
    buttons = [e["text"]["text"] for e in slack(payload)["blocks"][2]["elements"]]
    assert buttons == ["Ticket", "Grafana", "Runbook"]
    store.close()
