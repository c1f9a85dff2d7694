"""The monthly review's figures from a month of tickets with known clocks and outcomes."""

from dataclasses import replace
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from alerts.tickets.review import complaint_volume, monthly_review, review_of, review_weeks
from alerts.tickets.store import TicketStore
from alerts.tickets.volume import Count
from alerts.zones import month_span
from detectors.timeaxis import to_iso
from tests.domain import HOUR, MIN, T0, finding

WEEK = 7 * 24 * HOUR
START, END = T0 - 10 * 24 * HOUR, T0 + 20 * 24 * HOUR  # a 30-day month around T0


def ticket(store, key, region, spec, opened, metric="complaints.broadband_lag"):
    sf = replace(finding(opened, region=region, metric=metric), spec_id=spec)
    t, created = store.open(key, f"fp-{key}", sf, opened)
    assert created
    return t


@pytest.fixture
def month(sqlite_url):
    store = TicketStore(sqlite_url)
    # 1: every clock kept, a confirmed fault (site hardware)
    a = ticket(store, "a", "r1", "lag-wow", T0)
    store.transition(a.id, "acknowledge", "li.wei", "", T0 + 10 * MIN)
    store.transition(a.id, "comment", "li.wei", "on site", T0 + 2 * HOUR)
    store.transition(a.id, "resolve", "li.wei", "", T0 + 30 * HOUR, "confirmed_fault",
                     "site_hardware")  # fmt: skip
    # 2: acknowledged 5 min late, first word and resolution late: a false alarm
    b = ticket(store, "b", "r1", "lag-wow", T0 + 24 * HOUR, metric="complaints.weak_signal")
    store.transition(b.id, "acknowledge", "zhang.min", "", T0 + 24 * HOUR + 20 * MIN)
    store.transition(b.id, "resolve", "zhang.min", "", T0 + 104 * HOUR, "false_alarm")
    # 3: nobody acted; judged 100 hours after it opened, every clock is breached
    c = ticket(store, "c", "r2", "billing-burst", T0 + 48 * HOUR,
               metric="complaints.billing_dispute")  # fmt: skip
    # 4: another month
    ticket(store, "d", "r3", "lag-wow", START - HOUR)
    tickets = store.all()
    events = {t.id: store.events(t.id) for t in tickets}
    review = monthly_review(tickets, events, START, END, now=T0 + 148 * HOUR, regions=10)
    yield review, (a.id, b.id, c.id)
    store.close()


def test_sla_compliance_per_clock_and_department_with_every_breach(month):
    review, (_a, b, c) = month
    assert review["tickets"] == 3
    sla = review["sla"]
    for clock in ("acknowledge", "feedback", "resolve"):
        assert sla["by_clock"][clock] == {
            "met": 1, "breached": 2, "running": 0, "compliance": pytest.approx(1 / 3),
        }  # fmt: skip
    network = sla["by_department"]["network_maintenance"]
    assert network["acknowledge"]["compliance"] == 0.5
    assert sla["by_department"]["billing"]["resolve"]["breached"] == 1
    late = {(x["ticket"], x["clock"]): x["late_minutes"] for x in sla["breaches"]}
    assert late == {
        (b, "acknowledge"): 5.0,
        (b, "feedback"): 56 * 60.0,  # the resolution was the owner's first word, at +80 h
        (b, "resolve"): 8 * 60.0,
        (c, "acknowledge"): 100 * 60.0 - 15,
        (c, "feedback"): 76 * 60.0,
        (c, "resolve"): 28 * 60.0,
    }
    owners = {x["ticket"]: x["owner"] for x in sla["breaches"]}
    assert owners == {b: "zhang.min", c: None}
    assert sla["breaches"][0]["late_minutes"] == 100 * 60.0 - 15  # the worst first


def test_counts_recurring_problems_and_alert_quality(month):
    review, _ = month
    assert review["counts"]["region"] == {"r1": 2, "r2": 1}
    assert review["counts"]["department"] == {"network_maintenance": 2, "billing": 1}
    assert review["recurring"]["regions"] == [{"region": "r1", "tickets": 2}]
    assert review["recurring"]["region_causes"] == [
        {"region": "r1", "cause": "site_hardware", "tickets": 1}
    ]
    quality = review["quality"]
    assert quality["outcomes"] == {"confirmed_fault": 1, "false_alarm": 1, "unresolved": 1}
    assert quality["by_spec"]["lag-wow"] == {
        "tickets": 2, "confirmed": 1, "false_alarms": 1, "precision": 0.5,
    }  # fmt: skip
    assert quality["by_spec"]["billing-burst"]["precision"] is None  # nothing to judge by
    # one false alarm over 10 regions x 30/7 weeks
    assert quality["false_alarms_per_region_week"] == pytest.approx(1 / (10 * 30 / 7))
    assert quality["time_to_acknowledge_minutes"]["median"] == 15.0  # of 10 and 20
    assert quality["time_to_resolve_hours"]["median"] == 55.0  # of 30 and 80
    assert quality["time_to_resolve_hours"]["n"] == 2


def test_complaint_volume_per_category_and_region_week_over_week():
    zone = ZoneInfo("Asia/Shanghai")
    start, end = month_span("2027-01", zone)  # Friday 1st to Sunday 31st
    weeks = review_weeks(start, end, zone)  # Mondays 12-28 .. 01-25, and 12-21 before them
    mondays = [datetime.fromtimestamp(a / 1000, zone) for a, _ in weeks]
    assert [m.strftime("%m-%d %a %H:%M") for m in mondays] == [
        "12-21 Mon 00:00", "12-28 Mon 00:00", "01-04 Mon 00:00", "01-11 Mon 00:00",
        "01-18 Mon 00:00", "01-25 Mon 00:00",
    ]  # fmt: skip
    assert weeks[1][0] < start and weeks[-1][0] < end <= weeks[-1][1]
    before, last_but_one, last = weeks[0][0], weeks[-2][0], weeks[-1][0]
    counts = [
        Count("r1", before + HOUR, "broadband_lag", 10),  # the week before: compared with
        Count("r1", last_but_one + 5 * HOUR, "broadband_lag", 10),
        Count("r1", last + 5 * HOUR, "broadband_lag", 7),
        Count("r1", last + 6 * HOUR, "broadband_lag", 5),  # 12 = +20% on 10
        Count("r2", last + HOUR, "billing_dispute", 3),
        Count("r2", start - HOUR, "billing_dispute", 4),  # before the month, in its week
        Count("r9", weeks[-1][1], "billing_dispute", 99),  # after the last week: left out
    ]
    v = complaint_volume(counts, start, end, {"r1": 2}, zone)
    assert v["month"] == 10 + 12 + 3
    assert [w["start"] for w in v["weeks"]] == [to_iso(a) for a, _ in weeks[1:]]
    lag, billing = v["by_category"]
    assert lag["category"] == "broadband_lag" and lag["month"] == 22
    # weeks 01-04 and 01-11 hold no complaint at all: no data there, not zeros
    assert lag["weeks"] == [0, None, None, 10, 12]
    assert lag["changes"] == [-1.0, None, None, None, pytest.approx(0.2)]
    assert billing["month"] == 3 and billing["weeks"] == [4, None, None, 0, 3]
    r1, r2 = v["by_region"]
    assert (r1["region"], r1["month"], r1["tickets"]) == ("r1", 22, 2)
    assert (r2["region"], r2["month"], r2["tickets"]) == ("r2", 3, 0)


def test_the_volume_tables_group_thousands_and_say_no_change_without_a_sign():
    from monitor.reports.monthly import _complaints

    zone = ZoneInfo("Asia/Shanghai")
    start, end = month_span("2027-01", zone)
    weeks = review_weeks(start, end, zone)
    counts = [  # 16,581 then 16,535: -0.28%, which read "16535 (-0%)"
        Count("r1", weeks[-2][0] + HOUR, "broadband_lag", 16_581),
        Count("r1", weeks[-1][0] + HOUR, "broadband_lag", 16_535),
    ]
    html = "".join(_complaints(complaint_volume(counts, start, end, {}, zone), zone))
    assert "16,535 (0%)" in html and "16,581 (" in html
    assert "-0%" not in html and "16535" not in html
    assert ">33,116<" in html  # the month's total in its cell


def test_complaint_counts_are_written_once_per_hour_and_read_by_the_review(db_url):
    store = TicketStore(db_url)
    assert store.record_complaints([("r1", T0, {"broadband_lag": 3, "weak_signal": 0})]) == 1
    # the same hour again (a correction, a replay after a crash): replaced, not added
    store.record_complaints([("r1", T0, {"broadband_lag": 5}), ("r2", T0, {"billing": 1})])
    assert sorted(store.complaints(T0, T0 + HOUR)) == [
        Count("r1", T0, "broadband_lag", 5), Count("r2", T0, "billing", 1),
    ]  # fmt: skip
    assert store.complaints(T0 + HOUR, T0 + 2 * HOUR) == []
    month = "2027-03"  # T0 is in January
    start, end = month_span(month, UTC)
    store.record_complaints([("r1", start, {"broadband_lag": 4})])
    review = review_of(store, month, UTC, end)
    assert review["complaints"]["month"] == 4
    store.close()


@pytest.mark.parametrize("month", ["0001-01", "9999-12"])
def test_a_month_at_the_calendars_ends_is_refused_in_words(month):
    """``report monthly --month 0001-01`` answered Python's "year 0 is out of range"."""
    with pytest.raises(ValueError, match=f"month '{month}': expected 1970-01 to 9998-12"):
        month_span(month, ZoneInfo("Asia/Shanghai"))
