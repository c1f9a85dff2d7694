"""Worker metrics: names and units, bounded label cardinality (1,000 regions), values."""

from __future__ import annotations

import numpy as np
import pytest

from alerts.findings import TickResult
from detectors.seasonal import SeasonalConfig, seasonal_band
from detectors.timeaxis import HOUR_MS
from monitor.config.load import load_config
from monitor.observability.metrics import expected_band, label_bound, wow_change
from monitor.runners.embedded import build
from monitor.windows.aggregation import CATEGORIES, KPIS, HourlyAggregate
from tests.domain import finding
from tests.helpers import T0

ALLOWED_LABELS = {
    "region",
    "category",
    "kpi",
    "stat",
    "metric",
    "bound",
    "spec",
    "stage",
    "topic",
    "reason",
    "outcome",
    "department",
    "severity",
    "state",
    "clock",
    "channel",
    "le",
    "file",  # yujing_config_info: one series
    "version",
    "quantile",  # the review's medians and p90s
    "unit",  # yujing_kpi_info: a unit per KPI of the taxonomy
}


def aggregate(region: str, hour: int, complaints: int = 3) -> HourlyAggregate:
    return HourlyAggregate(
        region=region,
        hour=hour,
        revision=0,
        subscribers=50_000,
        complaints=tuple([complaints] * len(CATEGORIES)),
        kpi={k: (4, 0.5, 0.9, 0.8) for k in KPIS},
    )


def samples(registry) -> list:
    return [s for family in registry.collect() for s in family.samples]


def test_cardinality_stays_bounded_for_1000_regions(tmp_path, sqlite_url):
    config = load_config()
    run = build(config, sqlite_url, metrics=True)
    metrics = run.metrics
    regions = [f"region-{i:04d}" for i in range(1000)]
    for h in range(3):
        run.pipeline.apply([aggregate(r, T0 + h * HOUR_MS) for r in regions])
    # the worst case: every spec fires on every series it watches, in every region
    hour = T0 + 2 * HOUR_MS
    findings = [
        finding(
            hour,
            r,
            m,
            spec.detector,
            observed=9.0,
            spec=spec.id,
            baseline=3.0,
            change_pct=200.0,
            p_value=1e-9,
            window_start=hour,
            explanation="x",
            score=5.0,
        )
        for spec in config.detectors
        for m in spec.metrics
        for r in regions
    ]
    metrics.on_tick(TickResult(hour=hour, regions=frozenset(regions), findings=findings))
    metrics.refresh()
    got = samples(metrics.registry)
    bound = label_bound(1000, [(s.id, len(s.metrics)) for s in config.detectors])
    assert len(got) <= bound, f"{len(got)} series > bound {bound}"
    assert len(got) > 1000 * 20  # and the regions really are all there
    names = {label for s in got for label in s.labels}
    assert names <= ALLOWED_LABELS, names - ALLOWED_LABELS
    region_values = {s.labels["region"] for s in got if "region" in s.labels}
    assert region_values == set(regions)


def test_names_follow_prometheus_conventions(tmp_path, sqlite_url):
    run = build(load_config(), sqlite_url, metrics=True)
    run.pipeline.apply([aggregate("r1", T0)])
    for family in run.metrics.registry.collect():
        assert family.name.startswith("yujing_"), family.name
        if family.type == "counter":
            assert all(s.name.endswith(("_total", "_created")) for s in family.samples)
        assert family.documentation, f"{family.name} has no help text"


def test_region_gauges_show_the_latest_closed_hour(tmp_path, sqlite_url):
    run = build(load_config(), sqlite_url, metrics=True)
    run.pipeline.apply([aggregate("r1", T0 + HOUR_MS, complaints=5)])
    run.pipeline.apply([aggregate("r1", T0, complaints=1)])  # a correction of an older hour
    run.metrics.refresh()
    value = run.metrics.registry.get_sample_value(
        "yujing_region_complaints", {"region": "r1", "category": "broadband_lag"}
    )
    assert value == 5.0
    rate = run.metrics.registry.get_sample_value(
        "yujing_region_complaint_rate_per_10k_subscribers",
        {"region": "r1", "category": "broadband_lag"},
    )
    assert rate == 1.0  # 5 per 50,000 subscribers


def test_a_kpi_without_readings_in_the_latest_hour_is_a_gap_not_its_last_value(sqlite_url):
    """A region's KPI feed died: its hours close without readings (a silent region's
    included). The dashboard must show the gap; a gauge left at the last value showed a
    healthy KPI for a feed that was gone."""
    run = build(load_config(), sqlite_url, metrics=True)
    latency = {"region": "r1", "kpi": "latency", "stat": "mean"}
    run.pipeline.apply([aggregate("r1", T0)])
    run.metrics.refresh()
    assert run.metrics.registry.get_sample_value("yujing_region_kpi", latency) == 0.5
    empty = HourlyAggregate("r1", T0 + HOUR_MS, 0, 50_000, {}, {})
    run.pipeline.apply([empty])
    run.metrics.refresh()
    assert run.metrics.registry.get_sample_value("yujing_region_kpi", latency) is None
    assert run.metrics.registry.get_sample_value(
        "yujing_region_complaints", {"region": "r1", "category": "broadband_lag"}
    ) == 0.0  # fmt: skip
    run.pipeline.apply([aggregate("r1", T0 + 2 * HOUR_MS)])  # the feed is back
    run.metrics.refresh()
    assert run.metrics.registry.get_sample_value("yujing_region_kpi", latency) == 0.5


def test_each_kpi_is_exported_with_its_unit_and_a_reload_follows(sqlite_url):
    """The drill-down draws each KPI in its unit (``yujing_kpi_info``): an operator's
    taxonomy brings its own KPIs and units, and one without a unit still has a label."""
    from monitor.config.load import parse_config

    run = build(load_config(), sqlite_url, metrics=True)
    run.metrics.refresh()
    info = run.metrics.registry.get_sample_value
    assert info("yujing_kpi_info", {"kpi": "packet_loss", "unit": "%"}) == 1.0
    assert info("yujing_kpi_info", {"kpi": "latency", "unit": "ms"}) == 1.0
    own = parse_config(
        "taxonomy:\n  kpis:\n    - {name: rsrp, unit: dBm, min: -140, max: -40}\n"
        "    - {name: handovers, min: 0, max: 1000000}\ndetectors: []\n",
        "own.yaml",
    )
    run.pipeline.reload(own)
    run.metrics.refresh()
    exported = {
        (s.labels["kpi"], s.labels["unit"])
        for s in samples(run.metrics.registry)
        if s.name == "yujing_kpi_info"
    }
    assert exported == {("rsrp", "dBm"), ("handovers", "no unit")}


def test_firing_gauge_clears_when_the_finding_stops(tmp_path, sqlite_url):
    run = build(load_config(), sqlite_url, metrics=True)
    m = run.metrics
    f = finding(T0, "r1", spec="complaints-wow", score=3.0)
    labels = {"region": "r1", "metric": "complaints.broadband_lag", "spec": "complaints-wow"}
    m.on_tick(TickResult(hour=T0, regions=frozenset({"r1"}), findings=[f]))
    assert m.registry.get_sample_value("yujing_detector_firing", labels) == 1
    m.on_tick(TickResult(hour=T0 + HOUR_MS, regions=frozenset({"r2"}), findings=[]))
    assert m.registry.get_sample_value("yujing_detector_firing", labels) == 1  # r1 not judged
    m.on_tick(TickResult(hour=T0 + HOUR_MS, regions=frozenset({"r1"}), findings=[]))
    assert m.registry.get_sample_value("yujing_detector_firing", labels) == 0


def test_regions_gone_to_another_worker_leave_this_workers_gauges(sqlite_url):
    """After a rebalance the series are rebuilt from the partitions kept; the regions that
    moved are exported by their new owner. Left here, they froze at their last values: a
    sum by region counted them twice, and "no complaints from this region" never fired."""
    run = build(load_config(), sqlite_url, metrics=True)
    m = run.metrics
    hours = [aggregate(r, T0 + h * HOUR_MS) for h in range(3) for r in ("kept", "moved")]
    run.pipeline.apply(hours)
    m.on_tick(
        TickResult(
            hour=T0 + 2 * HOUR_MS,
            regions=frozenset({"kept", "moved"}),
            findings=[finding(T0, "moved", spec="complaints-wow", score=3.0)],
        )
    )
    m.refresh()

    def regions_exported() -> dict[str, set[str]]:
        out: dict[str, set[str]] = {}
        for family in m.registry.collect():
            for sample in family.samples:
                if "region" in sample.labels:
                    out.setdefault(sample.name, set()).add(sample.labels["region"])
        return out

    before = regions_exported()
    for name in ("yujing_region_complaints", "yujing_region_kpi", "yujing_region_risk_score"):
        assert before[name] == {"kept", "moved"}, name
    assert before["yujing_detector_firing"] == {"moved"}
    run.pipeline.restore([a for a in hours if a.region == "kept"])  # "moved" moved
    m.refresh()
    after = regions_exported()
    assert after, "every per-region series went"
    assert all(regions == {"kept"} for regions in after.values()), after


def test_regions_taken_over_are_exported_before_they_speak_again(sqlite_url):
    """A worker that took partitions over shows their regions' latest closed hours from
    the hourly log it restored (a region spoke again only at its next event)."""
    run = build(load_config(), sqlite_url, metrics=True)
    hours = [aggregate("taken", T0 + h * HOUR_MS, complaints=h + 1) for h in range(3)]
    run.pipeline.restore(hours)
    run.metrics.refresh()
    labels = {"region": "taken", "category": "broadband_lag"}
    assert run.metrics.registry.get_sample_value("yujing_region_complaints", labels) == 3


def test_band_and_week_over_week_math():
    week = 168
    history = np.full((2, 3 * week + 1), 10.0)
    history[1, -1 - week] = 40.0  # one past incident in the same hour: the median ignores it
    lower, median, upper = expected_band(history, SeasonalConfig(weeks=3, k=3.0))
    assert median.tolist() == [10.0, 10.0]
    assert lower[0] < 10 < upper[0]
    # the dashboard's band is the seasonal detector's band, not a formula of its own
    det_median, det_lower, det_upper = seasonal_band(history, 3, 3.0, 1)
    assert median.tolist() == det_median[:, 0].tolist()
    assert upper.tolist() == det_upper[:, 0].tolist()
    assert lower.tolist() == np.maximum(det_lower[:, 0], 0).tolist()
    rising = np.full((1, 2 * week), 10.0)
    rising[0, -week:] = 12.0
    assert abs(wow_change(rising)[0] - 0.2) < 1e-12
    assert np.isnan(wow_change(np.full((1, 2 * week), np.nan))[0])


def test_the_config_in_force_is_exported_and_logs_share_one_quiet_format(
    tmp_path, sqlite_url, capsys
):
    import logging

    from monitor.config.reload import ConfigWatcher
    from monitor.observability.logs import setup_logging

    path = tmp_path / "yujing.yaml"
    path.write_text("alerts: {clear_after_hours: 6}\n")
    config = load_config(path)
    run = build(config, sqlite_url, metrics=True)
    run.pipeline.watcher = ConfigWatcher(path, config)
    value = run.metrics.registry.get_sample_value(
        "yujing_config_info", {"file": str(path), "version": run.pipeline.watcher.version}
    )
    assert value == 1.0
    setup_logging("INFO")
    logging.getLogger("yujing.test").info("hour judged", extra={"fields": {"hour": 3}})
    logging.getLogger("kafka.conn").info("connecting to broker")  # library chatter
    logging.getLogger("aiokafka").error("Coordinator: GroupCoordinatorNotAvailableError")
    logged = capsys.readouterr().err.splitlines()
    assert len(logged) == 1 and logged[0].endswith('msg="hour judged" hour=3'), logged
    # a worker's table recovery is narrated: a worker that takes no events says why
    logging.getLogger("faust.tables.recovery").info("[^---Recovery]: Worker ready")
    logging.getLogger("faust.transport.consumer").info("fetching")
    logged = capsys.readouterr().err.splitlines()
    assert len(logged) == 1 and "Worker ready" in logged[0], logged


def test_the_dashboards_sla_and_quality_figures_are_the_monthly_reviews(sqlite_url):
    """The NOC dashboard's review row and `yujing report monthly` share one function:
    the exported figures are the review's over the 30 days before the newest judged hour."""
    import time
    from dataclasses import replace

    from alerts.tickets.review import monthly_review
    from monitor.observability.metrics import REVIEW_DAYS
    from tests.domain import MIN, finding

    run = build(load_config(), sqlite_url, metrics=True)
    store = run.tickets
    outcomes = [("a", "confirmed_fault", "capacity", 10), ("b", "false_alarm", None, 40),
                ("c", None, None, None)]  # fmt: skip
    for k, (spec, outcome, cause, ack) in enumerate(outcomes):
        opened = T0 + k * 24 * HOUR_MS
        sf = replace(finding(opened, region=f"r{k}"), spec_id=spec)
        t, _ = store.open(f"k{k}", f"fp{k}", sf, opened)
        if ack is not None:
            store.transition(t.id, "acknowledge", "li.wei", "", opened + ack * MIN)
            store.transition(t.id, "resolve", "li.wei", "", opened + 30 * HOUR_MS, outcome, cause)
    old = replace(finding(T0 - 40 * 24 * HOUR_MS, region="r9"), spec_id="a")
    store.open("old", "fp-old", old, T0 - 40 * 24 * HOUR_MS)  # before the 30 days
    run.pipeline.apply([aggregate(f"r{i}", T0 + 3 * 24 * HOUR_MS) for i in range(4)])
    get = run.metrics.registry.get_sample_value
    end = T0 + 3 * 24 * HOUR_MS + HOUR_MS  # the newest judged hour's end
    tickets = store.first_fired(end - REVIEW_DAYS * 24 * HOUR_MS, end)
    expected = monthly_review(
        tickets,
        store.events_of([t.id for t in tickets]),
        end - REVIEW_DAYS * 24 * HOUR_MS,
        end,
        int(time.time() * 1000),
        regions=4,
    )
    assert get("yujing_review_tickets") == expected["tickets"] == 3
    for clock, c in expected["sla"]["by_clock"].items():
        assert get("yujing_review_sla_compliance", {"clock": clock}) == c["compliance"]
        assert (
            get("yujing_review_sla_clocks", {"clock": clock, "state": "breached"}) == c["breached"]
        )
    assert get("yujing_review_sla_compliance", {"clock": "acknowledge"}) == 1 / 3  # 10 min
    assert get("yujing_review_precision", {"spec": "a"}) == 1.0
    assert get("yujing_review_precision", {"spec": "b"}) == 0.0
    assert get("yujing_review_precision", {"spec": "c"}) is None  # nobody judged it
    assert get("yujing_review_false_alarms_per_region_week") == pytest.approx(
        expected["quality"]["false_alarms_per_region_week"]
    )
    assert get("yujing_review_time_to_acknowledge_minutes", {"quantile": "0.5"}) == 25.0
    assert get("yujing_review_time_to_resolve_hours", {"quantile": "0.9"}) == 30.0


def test_a_replays_history_never_steps_back_in_time(tmp_path, sqlite_url):
    """An older hour judged again (a correction, a region left behind) wrote every
    series a sample older than the one before it: the gauges show the newest hours then,
    so the older hour got a later hour's values (or, at its own stamp, a second sample
    that promtool silently drops). They are written once, at the newest hour."""
    from monitor.observability.history import HistoryWriter

    run = build(load_config(), sqlite_url)
    writer = HistoryWriter(run.pipeline, tmp_path / "history.om")
    run.pipeline.latest["r1"] = aggregate("r1", T0 + HOUR_MS)
    for hour in (T0, T0 + HOUR_MS, T0):  # the last: T0 judged again
        writer.on_tick(TickResult(hour=hour, regions=frozenset({"r1"}), findings=[]))
    stamps: dict[str, list[int]] = {}
    for line in writer.close().read_text().splitlines():
        if not line.startswith("#"):
            series, _value, stamp = line.rsplit(" ", 2)
            stamps.setdefault(series, []).append(int(stamp))
    assert stamps and all(s == sorted(s) for s in stamps.values()), stamps
    assert stamps['yujing_kpi_info{kpi="latency",unit="ms"}'] == [
        (T0 + HOUR_MS) // 1000,
        (T0 + 2 * HOUR_MS) // 1000,
    ]
