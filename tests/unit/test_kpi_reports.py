"""KPI reports (one record per site and period, many readings): the same hours as samples."""

import orjson
import pytest

from detectors.timeaxis import HOUR_MS, from_iso
from monitor.events.deadletters import DeadLetter, Reason
from monitor.events.parsing import parse_event
from monitor.windows.aggregation import HourlyAggregator, Outcome, WindowConfig
from tests.helpers import kpi, region

T0 = from_iso("2026-10-05T09:00:00Z")


def report(start: int, interval_s: int = 300, site: str = "s1", **kpis: list[float]) -> bytes:
    return orjson.dumps(
        {
            "type": "kpi_report",
            "period_start": start,
            "interval_s": interval_s,
            "region": "r1",
            "site": site,
            "kpis": kpis,
        }
    )


def run(lines: list[bytes]) -> tuple[HourlyAggregator, list[object]]:
    agg = HourlyAggregator(WindowConfig(inputs=("kpi",)))
    outcomes = [agg.add(parse_event(line, kind="kpi")) for line in lines]
    return agg, outcomes


def summary(agg: HourlyAggregator, until: int) -> list[tuple[int, dict]]:
    return [(a.hour, a.kpi) for a in agg.poll(until=until)]


def test_a_report_aggregates_like_the_samples_it_carries():
    loss = [0.1 * i for i in range(12)]
    latency = [10.0 + i for i in range(12)]
    samples = [kpi(T0 + i * 300_000, v) for i, v in enumerate(loss)]
    samples += [kpi(T0 + i * 300_000, v, name="latency") for i, v in enumerate(latency)]
    by_samples, _ = run(samples)
    by_report, outcomes = run([report(T0, packet_loss=loss, latency=latency)])
    assert outcomes == [Outcome.ACCEPTED]
    end = T0 + HOUR_MS
    assert summary(by_report, end) == summary(by_samples, end)
    assert by_report.regions["r1"].kind_max["kpi"] == T0 + 11 * 300_000


def test_a_report_across_an_hour_edge_splits_its_readings():
    start = T0 + 50 * 60_000  # 09:50, readings every 5 minutes: 09:50, 09:55, 10:00, ...
    agg, _ = run([report(start, packet_loss=[1.0, 2.0, 3.0, 4.0])])
    hours = summary(agg, T0 + 2 * HOUR_MS)
    assert [(h, k["packet_loss"][0]) for h, k in hours] == [(T0, 2), (T0 + HOUR_MS, 2)]
    assert hours[0][1]["packet_loss"][1] == pytest.approx(1.5)
    assert hours[1][1]["packet_loss"][1] == pytest.approx(3.5)


def test_a_redelivered_report_counts_once_and_a_late_one_is_a_dead_letter():
    line = report(T0, packet_loss=[1.0, 2.0])
    agg, outcomes = run([line, line])
    assert outcomes == [Outcome.ACCEPTED, Outcome.DUPLICATE]
    agg.add(parse_event(kpi(T0 + 5 * HOUR_MS, 1.0)))
    late = agg.add(parse_event(report(T0, site="s2", packet_loss=[9.0]), kind="kpi"))
    assert isinstance(late, DeadLetter) and late.reason is Reason.LATE
    assert late.field == "period_start"


@pytest.mark.parametrize(
    ("payload", "reason", "field"),
    [
        ({"packet_loss": [0.1, 200.0]}, Reason.OUT_OF_RANGE, "kpis.packet_loss.1"),
        ({"packet_los": [0.1]}, Reason.UNKNOWN_KPI, "kpis.packet_los"),
        ({"packet_loss": [0.1, "x"]}, Reason.WRONG_TYPE, "kpis.packet_loss.1"),
        ({}, Reason.OUT_OF_RANGE, "kpis"),
    ],
)
def test_a_bad_report_is_a_dead_letter_naming_the_reading(payload, reason, field):
    letter = parse_event(report(T0, **payload), kind="kpi")
    assert isinstance(letter, DeadLetter)
    assert (letter.reason, letter.field) == (reason, field)


def test_a_report_is_refused_on_the_complaint_topic_and_counted_in_readings():
    letter = parse_event(report(T0, packet_loss=[1.0]), kind="complaint")
    assert isinstance(letter, DeadLetter) and letter.reason is Reason.UNKNOWN_TYPE
    from monitor.config.load import load_config
    from monitor.runners.embedded import build, run_lines

    run_ = build(load_config(), "sqlite://")
    run_lines(run_, [region("r1"), report(T0, packet_loss=[1.0] * 12, latency=[5.0] * 12)])
    stats = run_.pipeline.stats
    assert (stats.accepted, stats.readings) == (2, 24)  # the region record and the report
