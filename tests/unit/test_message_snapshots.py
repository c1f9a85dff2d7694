"""What each channel says, word for word: a change to a message shows up in review.

Update after an intended change with ``pytest tests/unit/test_message_snapshots.py
--snapshot-update`` and read the diff of ``__snapshots__`` as on-call would.
"""

from dataclasses import replace

import pytest

from alerts.notify import messages
from alerts.notify.settings import Links
from alerts.tickets.lifecycle import ACTIVE_STATES, TicketState
from alerts.tickets.view import TicketView
from tests.domain import HOUR, MIN, T0

LINKS = Links(tickets="https://noc.example/tickets", grafana="https://grafana.example")

THRESHOLD = TicketView(
    id=7,
    key="k7",
    fingerprint="fp7",
    region="sz-nanshan",
    metric="kpi.packet_loss.mean",
    detector="threshold",
    department="network_maintenance",
    severity="major",
    state="open",
    title="Inspect sz-nanshan: kpi.packet_loss.mean (threshold)",
    explanation="kpi.packet_loss.mean 1.21 above 1 for 2 consecutive hours",
    observed=1.21,
    baseline=0.2,
    change_pct=505.0,
    p_value=None,
    first_hour=T0,
    last_fired_hour=T0 + HOUR,
    occurrences=2,
    opened_at=T0 + HOUR,
    acknowledge_by=T0 + HOUR + 15 * MIN,
    feedback_by=T0 + 25 * HOUR,
    resolve_by=T0 + 73 * HOUR,
    recovered_at=None,
    limit_value=1.0,
    spec_id="packet-loss",
    sites=("sz-nanshan-s1 (packet_loss 1.9 %, usually 0.2 %)",),
)
WOW = replace(
    THRESHOLD,
    id=8,
    metric="complaints.broadband_lag",
    detector="wow",
    state="in_progress",
    owner="li.wei",
    explanation="7-day complaints 1,412 vs 1,170 the week before (+20.7%, p=3e-06)",
    observed=1412.0,
    baseline=1170.0,
    change_pct=20.7,
    p_value=3e-6,
    limit_value=None,
    spec_id="wow",
    sites=(),
    window_start=T0 + HOUR - 167 * HOUR,  # a week's sum
    first_feedback_at=T0 + 2 * HOUR,  # the owner started work on it
)
CASES = {
    "threshold-opened": (THRESHOLD, "opened", "yujing", "", "%"),
    "wow-commented": (WOW, "comment", "li.wei", "crew on site <!channel> @ 21:40", ""),
    "wow-resolved": (
        replace(WOW, state="resolved", outcome="confirmed_fault", cause="capacity"),
        "resolve",
        "li.wei",
        "outcome: confirmed_fault (capacity); a second carrier on site 3",
        "",
    ),
    "wow-recovered": (
        replace(WOW, recovered_at=T0 + 20 * HOUR),
        "recovered",
        "yujing",
        "anomaly cleared: no finding for 12 h; complaints.broadband_lag now 1,183",
        "",
    ),
}


def payload(case: str) -> dict:
    ticket, action, actor, comment, unit = CASES[case]
    return messages.build_payload(
        ticket.to_json(),
        messages.event_name(action),
        actor,
        comment,
        T0 + 2 * HOUR,
        LINKS,
        timezone="Asia/Shanghai",
        runbook="https://wiki.example/runbooks/packet-loss" if case.startswith("thr") else None,
        unit=unit,
    )


@pytest.mark.parametrize("case", sorted(CASES))
def test_email(case, snapshot):
    p = payload(case)
    assert f"Subject: {messages.subject(p)}\n\n{messages.text(p)}" == snapshot


@pytest.mark.parametrize("case", sorted(CASES))
def test_slack(case, snapshot):
    assert messages.slack(payload(case)) == snapshot


@pytest.mark.parametrize("case", sorted(CASES))
def test_webhook(case, snapshot):
    assert payload(case) == snapshot


@pytest.mark.parametrize("case", sorted(CASES))
def test_alertmanager(case, snapshot):
    assert messages.alertmanager_alert(payload(case), "2027-01-15T10:00:00+00:00") == snapshot


def test_the_messages_say_what_on_call_needs():
    """Beyond the snapshots, the facts a reader at 3 a.m. looks for, in words."""
    opened = messages.text(payload("threshold-opened"))
    assert "Observed: 1.21 % (limit 1.0 %, normal ~0.2 %)" in opened
    assert "First fired 2027-01-15 16:00 +08:00" in opened  # the operator's clock
    assert "Runbook: https://wiki.example/runbooks/packet-loss" in opened
    assert "Inspect first: sz-nanshan-s1 (packet_loss 1.9 %, usually 0.2 %)" in opened
    recovered = payload("wow-recovered")
    said = messages.text(recovered)
    # the figures are the last finding's, and say so; the value now is in the note
    assert "Last finding 2027-01-15 17:00 +08:00: 1,412 (normal ~1,170" in said
    assert "now 1,183" in said
    assert "Judged 168 h: 2027-01-08 18:00 +08:00 .. 2027-01-15 17:00 +08:00" in said
    assert "+21%" not in messages.subject(recovered)
    assert "Outcome: confirmed_fault (capacity)" in messages.text(payload("wow-resolved"))
    slack = messages.slack(payload("wow-commented"))
    assert "<!channel>" not in str(slack)  # a comment cannot ping a channel


@pytest.mark.parametrize(
    ("state", "first_feedback_at", "says"),
    [
        ("open", None, "; acknowledge by 2027-01-15 17:15 +08:00"),
        ("acknowledged", None, "; first feedback by 2027-01-16 17:00 +08:00"),
        ("in_progress", T0 + 2 * HOUR, "; resolve by 2027-01-18 17:00 +08:00"),
        ("resolved", T0 + 2 * HOUR, ""),
        ("closed", None, ""),
    ],
)
def test_a_message_names_the_next_clock_still_running(state, first_feedback_at, says):
    """What the reader must do by when: an acknowledged ticket's message told its reader to
    acknowledge it by a time long past."""
    ticket = replace(THRESHOLD, state=state, first_feedback_at=first_feedback_at)
    payload = messages.build_payload(
        ticket.to_json(), "comment", "li.wei", "", T0, LINKS, timezone="+08:00"
    )
    assert messages.next_due(payload) == says
    (times,) = [line for line in messages.text(payload).splitlines() if "First fired" in line]
    assert times.endswith(f"17:00 +08:00{says}")


def test_the_settled_states_are_the_lifecycles_inactive_ones():
    inactive = {s.value for s in TicketState} - {s.value for s in ACTIVE_STATES}
    assert inactive == messages.SETTLED_STATES


def test_a_ticket_shows_which_clocks_stopped():
    def rows(ticket: TicketView) -> dict[str, str]:
        payload = messages.build_payload(
            ticket.to_json(), "comment", "li.wei", "", T0, LINKS, timezone="+08:00"
        )
        return messages.clock_facts(payload)

    opened = rows(THRESHOLD)
    assert not any("(" in shown for shown in opened.values())
    started = rows(WOW)  # in progress: acknowledged, the owner's first word given
    assert started["acknowledge"].endswith("(stopped)")
    assert started["feedback"] == "2027-01-16 17:00 +08:00 (given 01-15 18:00)"
    assert not started["resolve"].endswith(")")
    resolved = rows(replace(THRESHOLD, state="resolved"))  # recovered, nobody acted
    assert [shown[-9:] for shown in resolved.values()] == ["(stopped)"] * 3


def test_a_ticket_says_how_late_each_clock_was_met():
    """`tickets show` and the ticket page said "(stopped)" of a closed loop done five days
    past due: read as met. With the audit, each clock says when it was done and how late."""
    ticket = replace(THRESHOLD, state="resolved", first_feedback_at=THRESHOLD.opened_at + HOUR)
    payload = messages.build_payload(
        ticket.to_json(), "comment", "li.wei", "", T0, LINKS, timezone="+08:00"
    )
    opened = THRESHOLD.opened_at
    audit = [
        {"at": opened + 14 * MIN, "action": "acknowledge", "to": "acknowledged"},
        {"at": opened + 30 * HOUR, "action": "recovered", "to": None},
        {"at": opened + 204 * HOUR, "action": "resolve", "to": "resolved"},
    ]
    facts = messages.clock_facts(payload, audit)
    assert facts["acknowledge"] == "2027-01-15 17:15 +08:00 (done 17:14)"
    assert facts["feedback"] == "2027-01-16 17:00 +08:00 (given 01-15 18:00)"
    assert facts["resolve"] == "2027-01-18 17:00 +08:00 (done 01-24 05:00, 5.5 d late)"
    late = [*audit[1:], {"at": opened + 40 * MIN, "action": "acknowledge", "to": "x"}]
    assert messages.clock_facts(payload, late)["acknowledge"].endswith("(done 17:40, 25 min late)")


def test_the_action_line_fits_what_the_ticket_is():
    """A resolved ticket's message told every channel to inspect the region's sites, and
    so did an evening capacity shortage's, which the detector itself calls no fault."""

    def action(ticket: TicketView) -> str:
        payload = messages.build_payload(ticket.to_json(), "opened", "yujing", "", T0, LINKS)
        (line,) = [x for x in messages.text(payload).splitlines() if x.startswith("Action:")]
        return line

    assert action(WOW).startswith("Action: Inspect the region's sites")
    assert action(replace(WOW, detector="peak_congestion")).startswith(
        "Action: Plan capacity for the region's evening peak"
    )
    assert "readings stopped" in action(replace(WOW, detector="silence"))
    for state in ("resolved", "closed"):
        assert action(replace(WOW, state=state)) == (
            f"Action: Nothing to do: the ticket is {state}; reopen it if the problem comes back."
        )


def test_a_two_signal_subject_says_what_fired_it():
    """A capacity ticket's subject read "(+3%)": its complaints were at their usual
    evening level, and what fired it, the saturation, was not in the line on-call reads."""

    def subject_of(ticket: TicketView) -> str:
        return messages.subject(
            messages.build_payload(ticket.to_json(), "opened", "yujing", "", T0, LINKS)
        )

    assert subject_of(WOW).endswith("complaints.broadband_lag (+21%)")
    capacity = replace(WOW, detector="peak_congestion")
    assert subject_of(capacity).endswith("complaints.broadband_lag (capacity shortage)")
    fault = replace(WOW, detector="site_fault")
    assert subject_of(fault).endswith("complaints.broadband_lag (site fault precursor)")


def test_a_two_signal_observed_line_says_what_fired_it_before_the_complaints():
    """A site fault precursor's ticket read "Observed: 7 (normal ~7, +0%)": the
    complaints at their usual level, which a reader takes for nothing wrong, while the
    site's packet loss had gone from 0.24 to 1.69 %."""

    def observed(ticket: TicketView) -> str:
        payload = messages.build_payload(ticket.to_json(), "opened", "yujing", "", T0, LINKS)
        (line,) = [x for x in messages.text(payload).splitlines() if x.startswith("Observed:")]
        return line

    plain = observed(WOW)
    assert plain.startswith("Observed: ") and "precursor" not in plain
    figures = plain.removeprefix("Observed: ")
    assert observed(replace(WOW, detector="site_fault")) == (
        f"Observed: site fault precursor; complaints.broadband_lag at {figures}"
    )
    assert observed(replace(WOW, detector="peak_congestion")).startswith(
        "Observed: capacity shortage; complaints.broadband_lag at "
    )


def test_a_two_signal_ticket_reads_its_other_series_first_in_its_unit():
    """With the KPI's own figures kept on the ticket, the line leads with them: what
    fired it, measured, before the complaints that only lean the same way."""
    from alerts.notify.settings import NotificationSettings

    settings = NotificationSettings(
        units={"packet_loss": "%", "bandwidth_utilisation": "%"}, links=LINKS
    )

    def observed(ticket: TicketView) -> str:
        json = ticket.to_json()
        payload = messages.build_payload(
            json, "opened", "yujing", "", T0, LINKS, **messages.units_of(json, settings)
        )
        (line,) = [x for x in messages.text(payload).splitlines() if x.startswith("Observed:")]
        return line

    loss = {"metric": "kpi.packet_loss.mean", "observed": 1.69, "baseline": 0.236, "limit": None}
    fault = replace(WOW, detector="site_fault", observed=7.0, baseline=7.0, change_pct=0.0)
    assert observed(replace(fault, signal=loss)) == (
        "Observed: site fault precursor: kpi.packet_loss.mean 1.69 % (normal ~0.236 %); "
        "complaints.broadband_lag at 7 (normal ~7, +0%)"
    )
    util = {"metric": "kpi.bandwidth_utilisation.max", "observed": 97.9, "baseline": None,
            "limit": 90.0}  # fmt: skip
    capacity = replace(WOW, detector="peak_congestion", signal=util)
    assert observed(capacity).startswith(
        "Observed: capacity shortage: kpi.bandwidth_utilisation.max 97.9 % (limit 90.0 %); "
        "complaints.broadband_lag at "
    )


@pytest.mark.parametrize(
    "stored",
    [
        None,
        "",
        "not json",
        "[1, 2]",
        '{"metric": "kpi.packet_loss.mean"}',
        '{"metric": 5, "observed": 1.0}',
        '{"metric": "m", "observed": "high"}',
        '{"metric": "m", "observed": true}',
        '{"metric": "m", "observed": NaN}',
        '{"metric": "m", "observed": 1e999}',
        '{"metric": "m", "observed": {"deep": [[[[1]]]]}}',
        '{"metric": "' + "m" * 100_000 + '", "observed": 1.0, "baseline": "x", "limit": null}',
    ],
)
def test_a_stored_signal_that_cannot_be_read_is_left_out_never_raised(stored):
    """A ticket's page, message and command line read the stored signal back: a row
    written by hand or cut short shows no signal (or a bounded one), never an error."""
    from alerts.tickets.view import MAX_METRIC_CHARS, decode_signal

    got = decode_signal(stored)
    if got is not None:
        assert got["observed"] == 1.0 and got["baseline"] is None
        assert len(got["metric"]) == MAX_METRIC_CHARS
