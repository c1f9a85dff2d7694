"""Each way the detectors failed on real data, pinned on a small series built here: a
spike, a drop, a holiday week, a gap, a rate below 1, a short history, a re-fire after
recovery, an early site fault from combined evidence, overdispersed counts."""

from __future__ import annotations

import numpy as np
import pytest

from alerts.policy.notifiers import MemoryNotifier
from alerts.policy.service import AlertService
from alerts.policy.settings import AlertSettings
from alerts.tickets.store import TicketStore
from detectors import (
    BurstDetector,
    DropDetector,
    EarlyTrendDetector,
    SeriesKey,
    SeriesWindow,
    SiteFaultDetector,
    WeekOverWeekDetector,
)
from detectors.burst import DropConfig, expectation
from detectors.timeaxis import HOUR_MS, WEEK_HOURS
from monitor.config.load import parse_config
from monitor.detection.hourly_file import HourlySeries
from monitor.detection.store import SeriesStore
from monitor.detection.tick import scan
from monitor.lab.backtest import run_backtest_series
from monitor.runners.embedded import build, run_series
from monitor.windows.aggregation import CATEGORIES, HourlyAggregate
from tests.domain import HOUR, T0, finding, tick

END = T0 + 2000 * HOUR
DAILY = 1.0 + 0.6 * np.sin(np.arange(24) / 24 * 2 * np.pi)  # a daily rhythm


def counts(hours: int, level: float = 20.0, seed: int = 1) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(level * np.resize(DAILY, hours)).astype(float)


def window(values: np.ndarray, metric: str = "complaints.total", **context) -> SeriesWindow:
    keys = [SeriesKey("r1", metric)]
    return SeriesWindow(keys, values[None, :], END, {k: v[None, :] for k, v in context.items()})


def hours_found(detector, values: np.ndarray, last: int, **context) -> list[int]:
    """Columns (from the start of ``values``) of the findings over the ``last`` hours."""
    found = detector.scan(window(values, **context), last)
    n = len(values)
    return sorted({n - 1 - (END - f.hour) // HOUR_MS for f in found})


def test_a_short_spike_fires_in_its_first_hour():
    # crash counts: ~6 an hour, then 2,060 for 13 hours (missed by the weekly rules)
    values = counts(5 * WEEK_HOURS, level=6.0)
    values[800:813] = 2060.0
    fired = hours_found(BurstDetector(), values[:900], 300)
    assert fired and fired[0] == 800


def test_a_collapse_of_intake_is_a_drop():
    # a hotline outage looks like no complaints at all for six hours
    values = counts(4 * WEEK_HOURS, level=60.0)
    values[600:606] = 0.0
    assert hours_found(DropDetector(), values[:650], 200)[:1] == [600]
    assert not hours_found(BurstDetector(), values[:650], 200)


def noisy(hours: int, level: float, relative: float, seed: int = 2) -> np.ndarray:
    """Counts whose rate varies by ``relative`` from hour to hour (gamma-mixed Poisson), as
    a city's taxi rides or a busy hotline's calls do: far more than Poisson noise."""
    rng = np.random.default_rng(seed)
    shape = 1.0 / relative**2
    rate = level * np.resize(DAILY, hours) * rng.gamma(shape, 1.0 / shape, hours)
    return rng.poisson(rate).astype(float)


def test_a_collapse_of_a_series_that_varies_by_a_quarter_is_a_drop():
    # a blizzard, or the hotline down: ~1,000 an hour give way to a handful. Judged on a
    # symmetric scale, 25% noise put even zero only 4 spreads below: never a drop
    values = noisy(4 * WEEK_HOURS, level=1000.0, relative=0.25)
    quiet = hours_found(DropDetector(), values, 2 * WEEK_HOURS)
    values[600:606] = [40.0, 12.0, 3.0, 0.0, 0.0, 25.0]
    assert hours_found(DropDetector(), values[:650], 200)[:1] == [600]
    assert not quiet, "the same series' ordinary hours are no drop"


def test_a_kpis_ordinary_nights_are_no_drop():
    # bandwidth utilisation, an hour's mean of a few readings: 1.5 points of noise, 15% of
    # night's 10% and 2.5% of day's 60%. Counted on a count's short lower tail, five of
    # these 80 regions' ordinary nights were drops in three weeks
    rng = np.random.default_rng(6)
    level = 10.0 + 50.0 * (np.resize(DAILY, 6 * WEEK_HOURS) - 0.4) / 1.2
    values = level + rng.normal(0.0, 1.5, size=(80, level.size))
    keys = [SeriesKey(f"r{i}", "kpi.bandwidth_utilisation.mean") for i in range(80)]
    found = DropDetector().scan(SeriesWindow(keys, values, END), 3 * WEEK_HOURS)
    assert not found, [f.explanation for f in found][:3]


def test_a_weekday_holiday_in_a_weekly_rhythm_is_a_drop():
    # offices closed on a Thursday: its morning falls to a fifth. The same hour of the
    # last seven days spreads by the weekly rhythm itself (Monday is not Friday, nor
    # Saturday), which made that fall "under two spreads"; the same hour of the last weeks
    # spreads by noise alone
    week = np.repeat([0.75, 0.8, 1.0, 1.0, 1.0, 0.45, 0.35], 24)  # Monday to Sunday
    rhythm = np.resize(week, 5 * WEEK_HOURS) * np.resize(DAILY, 5 * WEEK_HOURS)
    values = np.random.default_rng(4).poisson(3000.0 * rhythm).astype(float)
    quiet = hours_found(DropDetector(), values, 2 * WEEK_HOURS)
    thursday = 4 * WEEK_HOURS + 3 * 24
    values[thursday : thursday + 24] *= 0.2
    assert thursday + 8 in hours_found(DropDetector(), values[: thursday + 24], 24)
    assert not quiet


def test_ordinary_noise_of_real_counts_stays_quiet():
    # overdispersed counts (negative binomial, variance ~ 10x the mean): no burst, and no
    # week-over-week or trend finding from a Poisson test that believes they are Poisson
    rng = np.random.default_rng(3)
    mean = 200.0 * np.resize(DAILY, 6 * WEEK_HOURS)
    values = rng.negative_binomial(n=mean / 9.0, p=0.1).astype(float)
    assert not hours_found(BurstDetector(), values, 3 * WEEK_HOURS)
    assert not hours_found(WeekOverWeekDetector(), values, 3 * WEEK_HOURS)
    early = EarlyTrendDetector(EarlyTrendDetector.config_model(min_volume=15))
    assert not hours_found(early, values, 2 * WEEK_HOURS)


def test_a_rate_below_one_is_judged_on_its_own_scale():
    rng = np.random.default_rng(5)
    values = 0.05 * np.resize(DAILY, 3 * WEEK_HOURS) * rng.uniform(0.9, 1.1, 3 * WEEK_HOURS)
    values[400] = 0.6  # twelve times the usual rate per 10k subscribers
    assert hours_found(BurstDetector(), values[:420], 100, metric="complaint_rate.total") == [400]


def test_judged_from_the_third_day_and_said_so_before():
    values = counts(80)
    values[60] = 200.0
    assert hours_found(BurstDetector(), values, 40) == [60]
    detector = BurstDetector()
    assert detector.min_known_hours() == 49  # two days of the same hours, then judged


def test_a_drop_waits_for_the_weeks():
    # in its first two weeks a series' weekend is set against the weekdays before it:
    # five weekdays and a Saturday at 40% of them
    values = counts(WEEK_HOURS + 6 * 24, level=200.0)
    values[5 * 24 : 7 * 24] *= 0.4
    values[12 * 24 :] *= 0.4
    assert not hours_found(DropDetector(), values, len(values) - 3 * 24)
    days_only = DropDetector(DropDetector.config_model(early_days=True))
    assert hours_found(days_only, values, len(values) - 3 * 24), "what the days alone made"
    assert DropDetector().min_known_hours() == 2 * WEEK_HOURS + 1


def test_waiting_for_the_weeks_changes_which_hours_are_judged_not_how():
    # the series' own dispersion is measured on the early days' hours too: a drop judged
    # in the third week's first days with none of it had only the 10% floor for a spread
    n = 2 * WEEK_HOURS + 3 * 24
    values = counts(n, level=200.0)[None, :]
    judged = 6 * 24  # the second week's last three days and the third week's first three
    waits = expectation(values, DropConfig(), judged, -1)
    early = expectation(values, DropConfig(early_days=True), judged, -1)
    weeks_known = np.arange(n - judged, n) >= 2 * WEEK_HOURS
    np.testing.assert_array_equal(waits[2][0], early[2][0] & weeks_known)
    np.testing.assert_array_equal(waits[1][0][weeks_known], early[1][0][weeks_known])


def test_one_missing_hour_does_not_switch_the_weekly_rule_off():
    values = np.concatenate([counts(WEEK_HOURS, 20.0, 1), counts(WEEK_HOURS, 30.0, 2)])
    values[250] = np.nan  # one hour the feed missed
    wow = WeekOverWeekDetector(WeekOverWeekDetector.config_model(min_volume=50))
    assert wow.evaluate(window(values)), "a +50% week with one gap is still a rise"


def test_a_holiday_week_in_the_calendar_is_no_ones_baseline():
    store = SeriesStore(["complaints.total"], history_hours=6 * WEEK_HOURS)
    first = T0 - T0 % (24 * HOUR) - 8 * HOUR  # local midnight in UTC+8
    values = counts(5 * WEEK_HOURS, 40.0)
    values[2 * WEEK_HOURS : 3 * WEEK_HOURS] *= 0.6  # the holiday week: 40% fewer
    for j, value in enumerate(values):
        store.update(_aggregate(first + j * HOUR, value))
    days = [
        (np.datetime64(first + 2 * WEEK_HOURS * HOUR + 8 * HOUR, "ms") + np.timedelta64(d, "D"))
        .astype("datetime64[D]")
        .item()
        for d in range(7)
    ]
    text = "detectors:\n  - {id: wow, detector: wow, metrics: [complaints.total]}\n"
    last = first + (len(values) - 1) * HOUR
    judged = (first + 3 * WEEK_HOURS * HOUR, last)  # the normal week after the holidays
    without = parse_config(text, "test")
    with_calendar = parse_config(text + f"holidays: [{', '.join(map(str, days))}]\n", "test")
    assert any(t.findings for t in scan(without, store, *judged)), "the old failure"
    assert not any(t.findings for t in scan(with_calendar, store, *judged))


def _aggregate(hour: int, total: float) -> HourlyAggregate:
    complaints = (int(total),) + (0,) * (len(CATEGORIES) - 1)
    return HourlyAggregate("r1", hour, 0, None, complaints, {})


def test_the_kpi_anomaly_with_a_weak_complaint_rise_is_a_site_fault():
    rng = np.random.default_rng(2)
    n = 4 * WEEK_HOURS
    loss = 0.2 * np.resize(DAILY, n) * rng.uniform(0.9, 1.1, n)
    complaints = counts(n, 8.0)
    onset = n - 30
    loss[onset:] *= np.linspace(1.2, 3.0, n - onset)  # a site degrading: loss climbs
    complaints[onset:] += rng.poisson(2.0, n - onset)  # complaints barely move (+25%)
    detector = SiteFaultDetector()
    found = detector.scan(
        window(complaints, "complaints.broadband_lag", **{"kpi.packet_loss.mean": loss}), 30
    )
    assert found, "the KPI's anomaly, corroborated by a weak rise, is enough"
    assert (found[0].hour - (END - 29 * HOUR)) // HOUR < 24
    fewer = complaints.copy()
    fewer[onset:] = np.maximum(fewer[onset:] - rng.poisson(6.0, n - onset), 0)
    quiet = detector.scan(
        window(fewer, "complaints.broadband_lag", **{"kpi.packet_loss.mean": loss}), 30
    )
    assert not quiet, "complaints falling while loss rises is not corroboration"


@pytest.fixture
def service(sqlite_url):
    store = TicketStore(sqlite_url)
    svc = AlertService(
        store=store, notifier=MemoryNotifier(), settings=AlertSettings(clear_after_hours=6)
    )
    yield svc
    store.close()


def test_a_recovered_ticket_firing_again_is_a_new_detection(service):
    for k in range(40):
        hour = T0 + k * HOUR
        fire = k in (2, 3, 30)  # an episode, 26 quiet hours (recovered), another
        service.handle(tick(hour, *([finding(hour)] if fire else [])), now=hour + HOUR)
    events = [n.event for n in service.notifier.sent]
    assert events == ["opened", "recovered", "refired", "recovered"]
    assert len(service.store.all()) == 1


def test_a_regions_kpi_and_complaint_findings_share_one_ticket(service):
    hour = T0
    service.handle(
        tick(
            hour,
            finding(hour, metric="complaints.broadband_lag", detector="site_fault"),
            finding(hour, metric="kpi.packet_loss.mean", detector="burst"),
            finding(hour, metric="complaints.weak_signal", detector="site_fault"),
        ),
        now=hour + HOUR,
    )
    assert len(service.store.all()) == 1


def _three_weeks(store: SeriesStore) -> tuple[int, int, int]:
    """Week 1 at 40 an hour, week 2 at 24 (an outage of intake), week 3 at 40 again:
    (first hour, first hour of week 2, last hour)."""
    first = T0 - T0 % (24 * HOUR)
    values = counts(3 * WEEK_HOURS, 40.0)
    values[WEEK_HOURS : 2 * WEEK_HOURS] *= 0.6
    for j, value in enumerate(values):
        store.update(_aggregate(first + j * HOUR, value))
    return first, first + WEEK_HOURS * HOUR, first + (len(values) - 1) * HOUR


WOW = "detectors:\n  - {id: wow, detector: wow, metrics: [complaints.total]}\n"


def test_hours_flagged_anomalous_are_no_ones_baseline():
    store = SeriesStore(["complaints.total"], history_hours=6 * WEEK_HOURS)
    _, week2, last = _three_weeks(store)
    judged = (week2 + WEEK_HOURS * HOUR, last)  # the normal week after the bad one
    config = parse_config(WOW, "test")
    assert any(t.findings for t in scan(config, store, *judged)), "the old failure"
    for j in range(WEEK_HOURS):  # what the pipeline does for a week that kept firing
        store.flag("r1", "complaints.total", week2 + j * HOUR)
    assert not any(t.findings for t in scan(config, store, *judged))


def test_a_maintenance_mute_is_no_ones_baseline():
    store = SeriesStore(["complaints.total"], history_hours=6 * WEEK_HOURS)
    _, week2, last = _three_weeks(store)
    start = np.datetime64(week2, "ms").item().isoformat()
    end = np.datetime64(week2 + WEEK_HOURS * HOUR, "ms").item().isoformat()
    muted = parse_config(
        WOW
        + f"mutes:\n  - {{regions: [r1], start: '{start}+00:00', end: '{end}+00:00',"
        + " reason: hotline migration}\n",
        "test",
    )
    judged = (week2 + WEEK_HOURS * HOUR, last)
    assert not any(t.findings for t in scan(muted, store, *judged))


def test_a_replay_flags_the_hours_that_fired():
    config = parse_config(
        "detectors:\n  - {id: b, detector: burst, metrics: [complaints.total]}\n", "test"
    )
    values = counts(4 * WEEK_HOURS, 20.0)
    values[3 * WEEK_HOURS] = 400.0
    first = T0 - T0 % (24 * HOUR)
    series = HourlySeries(["r1"], first, {"complaints.total": values[None, :]})
    result = run_backtest_series(config, series, [])
    assert [f.finding.hour for f in result.findings] == [first + 3 * WEEK_HOURS * HOUR]
    # (the pipeline itself: its store is gone with the backtest, so replay it again)
    run = build(config, "sqlite://")
    run_series(run, series)
    store = run.pipeline.series
    flagged = store.flagged("complaints.total", series.last_hour, series.hours)[0]
    fired = 3 * WEEK_HOURS
    assert flagged[fired], "the hour of the finding"
    assert flagged[fired : fired + 3].all(), "and the hours its ticket kept firing"
    assert not flagged[:fired].any()


def test_a_series_not_judged_says_why():
    from monitor.detection.tick import why_unjudged

    values = np.full((4, 100), np.nan)
    values[1, -20:] = 1.0  # began 20 hours ago
    values[2, ::3] = 1.0  # 34 known hours over the whole window: gaps
    values[3, :] = 1.0  # enough
    assert why_unjudged(values, 49) == {"no data": 1, "history": 1, "gaps": 1}
    assert why_unjudged(values[3:], 49) == {}
