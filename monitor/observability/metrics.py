"""Prometheus metrics of a worker: what the NOC sees per region, and the pipeline's health.

Three kinds, following client_python's split:
* counters that already live in the pipeline's stats are read at scrape time by a custom
  collector (no second bookkeeping that could drift);
* ticket and outbox figures are counted in the ticket database at scrape time, so every
  worker and `yujing api` report the same truth;
* per-region and per-series gauges are set from the pipeline's hooks, at most once per
  second during a fast replay (and always at the end), once per hour live.

Label values come from closed sets (categories, KPIs, departments, states, dead-letter
reasons, detector spec ids of the config) and the region names: never ticket ids or free
text, so the number of series is bounded by regions x config (tests hold that bound).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import func, select

from alerts.findings import Severity, TickResult
from alerts.notify.outbox import Delivery, DeliveryState
from alerts.sla import CLOCKS, breached_clocks
from alerts.taxonomy import Department
from alerts.tickets.lifecycle import ACTIVE_STATES, TicketState
from alerts.tickets.models import Ticket, TicketEvent
from alerts.tickets.review import monthly_review
from alerts.tickets.store import TicketStore
from detectors.seasonal import SeasonalConfig, SeasonalDetector, seasonal_band
from detectors.timeaxis import HOUR_MS, WEEK_HOURS
from monitor.config.reload import ConfigWatcher
from monitor.events.deadletters import Reason
from monitor.pipeline import Pipeline
from monitor.windows.aggregation import (
    CATEGORIES,
    KPI_STATS,
    KPIS,
    complaints_metric,
    kpi_metric,
    rate_metric,
)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def expected_band(
    window: np.ndarray, config: SeasonalConfig | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(lower, median, upper) of the window's last hour, per row: the seasonal detector's
    own band (``detectors.seasonal.seasonal_band``), so the band the NOC looks at is the one
    a detector judges by. Counts cannot go below zero, so the lower bound is clipped."""
    cfg = config or SeasonalConfig()
    median, lower, upper = seasonal_band(window, cfg.weeks, cfg.k, 1)
    return np.maximum(lower[:, 0], 0), median[:, 0], upper[:, 0]


def wow_change(window: np.ndarray) -> np.ndarray:
    """Last 7 days against the 7 days before, as a ratio (0.2 = +20%); NaN without a base."""
    last = np.nansum(window[:, -WEEK_HOURS:], axis=1)
    before = np.nansum(window[:, -2 * WEEK_HOURS : -WEEK_HOURS], axis=1)
    have = np.isfinite(window[:, -2 * WEEK_HOURS : -WEEK_HOURS]).sum(axis=1) >= WEEK_HOURS // 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(have & (before > 0), last / before - 1.0, np.nan)


NO_UNIT = "no unit"  # a label Prometheus keeps (an empty one it drops)


@dataclass
class WorkerMetrics:
    """The instruments of one worker process and the hooks that feed them."""

    pipeline: Pipeline
    store: TicketStore | None = None
    watcher: ConfigWatcher | None = None
    registry: CollectorRegistry = field(default_factory=CollectorRegistry)
    refresh_every_s: float = 1.0  # after a tick, at most this often (inf: never)
    clock: Callable[[], float] = time.monotonic
    _firing: set[tuple[str, str, str]] = field(default_factory=set)
    _last_refresh: float = float("-inf")
    _last_hour: int | None = None
    _store: object = None  # the series store the gauges were last set from

    def __post_init__(self) -> None:
        r = self.registry
        self.complaints = Gauge(
            "yujing_region_complaints",
            "Complaints in the region's latest closed hour.",
            ["region", "category"],
            registry=r,
        )
        self.complaint_rate = Gauge(
            "yujing_region_complaint_rate_per_10k_subscribers",
            "Complaints per 10,000 subscribers in the region's latest closed hour.",
            ["region", "category"],
            registry=r,
        )
        self.kpi = Gauge(
            "yujing_region_kpi",
            "Network KPI of the region's latest closed hour (mean, max, "
            "p95 over its sites' samples).",
            ["region", "kpi", "stat"],
            registry=r,
        )
        # each KPI's unit, joined onto its readings by the drill-down (``group_left``): a
        # panel per KPI says its unit, whatever the operator's taxonomy names
        self.kpi_info = Gauge(
            "yujing_kpi_info",
            "1 for each KPI of the taxonomy, with its unit.",
            ["kpi", "unit"],
            registry=r,
        )
        self._kpi_units: set[tuple[str, str]] = set()
        self.expected = Gauge(
            "yujing_series_expected",
            "A watched complaint series in its latest hour (bound=observed) and its "
            "hour-of-week baseline band: lower, median, upper.",
            ["region", "metric", "bound"],
            registry=r,
        )
        self.wow = Gauge(
            "yujing_series_wow_change_ratio",
            "Last 7 days against the 7 days before (0.2 = +20%).",
            ["region", "metric"],
            registry=r,
        )
        self.firing, self.score, self.baseline, self.observed = (
            Gauge(f"yujing_detector_{name}", doc, ["region", "metric", "spec"], registry=r)
            for name, doc in (
                ("firing", "1 while a detector spec finds this series anomalous."),
                ("score", "Score of the detector's latest finding on this series."),
                ("baseline", "Baseline of the detector's latest finding."),
                ("observed", "Observed value of the detector's latest finding."),
            )
        )
        self.unjudged = Gauge(
            "yujing_series_unjudged",
            "Series a detector spec cannot judge: too few known hours for its detector; "
            "reason: no data, history (began too recently) or gaps.",
            ["spec", "reason"],
            registry=r,
        )
        self.risk = Gauge(
            "yujing_region_risk_score",
            "Firing detector specs plus the largest positive "
            "week-over-week complaint change: the NOC overview's ranking.",
            ["region"],
            registry=r,
        )
        self.processing = Histogram(
            "yujing_processing_seconds",
            "Wall time of a pipeline stage: apply (a batch of "
            "closed hours through series, detectors and alerts), tick (one judged hour) and, "
            "in a Faust worker, close (hours closed to their tickets and outbox rows "
            "committed, including the hourly topic's sends).",
            ["stage"],
            registry=r,
            buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10),
        )
        # a Faust worker's timers (monitor.runners.faust.timers): how late each fires
        # tells that something held the event loop
        self.timer_lateness = Histogram(
            "yujing_timer_lateness_seconds",
            "How late the worker's heartbeat timer fired (something held the event loop).",
            registry=r,
            buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2, 5),
        )
        self.events_rereads = Counter(
            "yujing_events_rereads",
            "Times an events partition was read again: some of its records never reached "
            "the aggregation (monitor/runners/faust/stall.py).",
            registry=r,
        )
        self.recovery_rereads = Counter(
            "yujing_recovery_rereads",
            "Times a worker's table recovery, having read none of the changelog records it "
            "waited for, was read again (monitor/runners/faust/recovery_watch.py).",
            registry=r,
        )
        self.rounds_failed = Counter(
            "yujing_rounds_failed",
            "Rounds of the aggregation agent that failed half-way (the ticket database "
            "away, a broker refusing a write): its partitions started over from their "
            "committed offsets; the worker's log says why.",
            registry=r,
        )
        self.consumer_lag = Gauge(
            "yujing_consumer_lag_messages",
            "Messages not yet consumed, per input topic.",
            ["topic"],
            registry=r,
        )
        for stage in ("apply", "tick", "close"):
            self.processing.labels(stage)
        self._store = self.pipeline.series
        r.register(_StatsCollector(self))
        if self.store is not None:
            r.register(_TicketCollector(self.store))
            r.register(_ReviewCollector(self.store, self.pipeline))
        self.attach(self.pipeline)

    # -- hooks ------------------------------------------------------------------------
    def attach(self, pipeline: Pipeline) -> None:
        pipeline.observe(
            tick=self.on_tick,
            timing=lambda stage, s: self.processing.labels(stage).observe(s),
        )

    def on_tick(self, result: TickResult) -> None:
        for spec, reasons in result.unjudged.items():
            for reason, n in reasons.items():
                self.unjudged.labels(spec, reason).set(n)
        now_firing: set[tuple[str, str, str]] = set()
        for sf in result.findings:
            f = sf.finding
            key = (f.region, f.metric, sf.spec_id)
            now_firing.add(key)
            self.firing.labels(*key).set(1)
            self.score.labels(*key).set(f.score)
            self.baseline.labels(*key).set(f.baseline)
            self.observed.labels(*key).set(f.observed)
        for key in self._firing - now_firing:
            if key[0] in result.regions:
                self.firing.labels(*key).set(0)
        self._firing = {k for k in self._firing if k[0] not in result.regions} | now_firing
        self._last_hour = (
            result.hour if self._last_hour is None else max(self._last_hour, result.hour)
        )
        every = self.refresh_every_s  # inf: only when asked (a scrape, an export)
        if every < math.inf and self.clock() - self._last_refresh >= every:
            self.refresh()

    # -- gauges from state ------------------------------------------------------------
    def refresh(self) -> None:
        """Set the per-region and per-series gauges from the latest state."""
        self._last_refresh = self.clock()
        if self.pipeline.series is not self._store:  # rebuilt: the partitions moved
            self._store = self.pipeline.series
            self.forget_regions_not_in(set(self._store.regions))
        taxonomy = self.pipeline.config.vocabulary
        self._set_kpi_units({(k.name, k.unit or NO_UNIT) for k in taxonomy.kpis})
        for region, agg in self.pipeline.latest.items():
            for c in taxonomy.category_names:
                self.complaints.labels(region, c).set(agg.value(complaints_metric(c)))
                rate = agg.value(rate_metric(c))
                if np.isfinite(rate):
                    self.complaint_rate.labels(region, c).set(rate)
            for kpi in taxonomy.kpi_names:
                for stat in KPI_STATS:
                    v = agg.value(kpi_metric(kpi, stat))
                    if np.isfinite(v):
                        self.kpi.labels(region, kpi, stat).set(v)
                    else:  # no reading this hour (a dead feed): a gap, not the last value
                        with contextlib.suppress(KeyError):
                            self.kpi.remove(region, kpi, stat)
        if self._last_hour is None:
            return
        store = self.pipeline.series
        regions = list(store.regions)
        rising = np.zeros(len(regions))
        for metric in self.watched_metrics():
            band = self.band_config(metric)
            hours = max(band.weeks, 2) * WEEK_HOURS + 1
            window = store.window(metric, self._last_hour, hours, regions).values
            if window.size == 0:
                continue
            lower, median, upper = expected_band(window, band)
            change = wow_change(window)
            rising = np.fmax(rising, np.nan_to_num(np.maximum(change, 0)))
            for i, region in enumerate(regions):
                if np.isfinite(median[i]):
                    self.expected.labels(region, metric, "lower").set(lower[i])
                    self.expected.labels(region, metric, "median").set(median[i])
                    self.expected.labels(region, metric, "upper").set(upper[i])
                if np.isfinite(window[i, -1]):
                    self.expected.labels(region, metric, "observed").set(window[i, -1])
                if np.isfinite(change[i]):
                    self.wow.labels(region, metric).set(change[i])
        firing_by_region: dict[str, int] = {}
        for region, _metric, _spec in self._firing:
            firing_by_region[region] = firing_by_region.get(region, 0) + 1
        for i, region in enumerate(regions):
            self.risk.labels(region).set(firing_by_region.get(region, 0) + rising[i])

    def _set_kpi_units(self, units: set[tuple[str, str]]) -> None:
        """The taxonomy's (KPI, unit) pairs; a pair a reloaded taxonomy dropped goes."""
        for gone in self._kpi_units - units:
            self.kpi_info.remove(*gone)
        for kpi, unit in units - self._kpi_units:
            self.kpi_info.labels(kpi, unit).set(1)
        self._kpi_units = units

    def forget_regions_not_in(self, owned: set[str]) -> None:
        """Drop every per-region series of regions this worker no longer owns (their
        partitions moved to another worker, which exports them now). Kept, they froze at
        their last values beside the new owner's: a dashboard's sum by region counted
        them twice, and the rules that ask "none from this region?" never saw a silence.
        """
        self._firing = {key for key in self._firing if key[0] in owned}
        for gauge in self.per_region_gauges():
            gone = {
                tuple(sample.labels.values())  # in the gauge's label order, as remove() takes
                for family in gauge.collect()
                for sample in family.samples
                if sample.labels["region"] not in owned
            }
            for labels in gone:
                with contextlib.suppress(KeyError):
                    gauge.remove(*labels)

    def per_region_gauges(self) -> list[Gauge]:
        return [
            self.complaints,
            self.complaint_rate,
            self.kpi,
            self.expected,
            self.wow,
            self.firing,
            self.score,
            self.baseline,
            self.observed,
            self.risk,
        ]

    def band_config(self, metric: str) -> SeasonalConfig:
        """The seasonal spec's parameters for this metric if the config has one, else the
        seasonal detector's defaults."""
        for spec in self.pipeline.config.detectors:
            if spec.detector == SeasonalDetector.name and metric in spec.metrics:
                return spec.instance.config
        return SeasonalConfig()

    def watched_metrics(self) -> list[str]:
        """Complaint counts some spec watches: the series the NOC compares with a band."""
        watched = {m for spec in self.pipeline.config.detectors for m in spec.metrics}
        return sorted(
            m for m in watched if m.startswith("complaints.") and m in self.pipeline.series.data
        )

    def exposition(self) -> bytes:
        self.refresh()
        return generate_latest(self.registry)


class _StatsCollector(Collector):
    """Counters the pipeline keeps anyway, read at scrape time."""

    def __init__(self, owner: WorkerMetrics) -> None:
        self.owner = owner

    def collect(self) -> Iterator[Metric]:
        p = self.owner.pipeline
        s = p.stats

        def counter(name: str, doc: str, value: float) -> CounterMetricFamily:
            return CounterMetricFamily(name, doc, value=value)

        yield counter("yujing_events_received", "Raw events read from the inputs.", s.events_in)
        yield counter(
            "yujing_events_accepted", "Valid events added to an hourly window.", s.accepted
        )
        yield counter(
            "yujing_readings_accepted",
            "Complaints and KPI readings added to an "
            "hourly window (a KPI report record carries many readings).",
            s.readings,
        )
        yield counter("yujing_duplicate_events", "Redelivered events counted once.", s.duplicates)
        dead = CounterMetricFamily(
            "yujing_dead_letters", "Events set aside with a reason.", labels=["reason"]
        )
        counts = dict(s.dead_lettered)
        for reason in Reason:
            dead.add_metric([reason.value], counts.get(reason.value, 0))
        yield dead
        late = CounterMetricFamily(
            "yujing_late_events",
            "Events after their hour was emitted: corrected it, or too late (dead-lettered).",
            labels=["outcome"],
        )
        late.add_metric(["corrected"], s.late_accepted)
        late.add_metric(["dead_lettered"], counts.get(Reason.LATE.value, 0))
        yield late
        yield counter(
            "yujing_hourly_aggregates", "Region-hours emitted (with corrections).", s.aggregates
        )
        yield counter(
            "yujing_hour_corrections",
            "Region-hours emitted again after a late event.",
            s.corrections,
        )
        yield counter("yujing_detection_ticks", "Hours judged by the detectors.", s.ticks)
        yield counter("yujing_findings", "Findings of all detectors.", s.findings)
        yield counter("yujing_findings_muted", "Findings dropped by a maintenance mute.", s.muted)
        a = p.alerts.stats
        yield counter("yujing_tickets_opened", "Tickets this worker opened.", a.opened)
        yield counter("yujing_tickets_recovered", "Tickets marked recovered.", a.recovered)
        yield counter(
            "yujing_findings_suppressed",
            "Findings held back by a cooldown, or on evidence from before a person resolved their "
            "problem.",
            a.suppressed,
        )
        last = GaugeMetricFamily(
            "yujing_last_closed_hour_timestamp_seconds",
            "End of the newest hour the detectors judged (event time).",
        )
        if s.last_judged_hour is not None:
            last.add_metric([], (s.last_judged_hour + HOUR_MS) / 1000)
        yield last
        w = self.owner.watcher or p.watcher
        yield counter(
            "yujing_config_reloads", "Valid configs applied by hot reload.", w.reloads if w else 0
        )
        yield counter(
            "yujing_config_reload_failures",
            "Rejected configs (old one kept).",
            w.failures if w else 0,
        )
        info = GaugeMetricFamily(
            "yujing_config_info",
            "The config in force: its file and version (a hash of its bytes); 1.",
            labels=["file", "version"],
        )
        info.add_metric([str(w.path), w.version] if w else ["packaged default", "default"], 1)
        yield info


class _TicketCollector(Collector):
    """Tickets, SLA and the outbox as counted in the database at scrape time."""

    def __init__(self, store: TicketStore) -> None:
        self.store = store

    def collect(self) -> Iterator[Metric]:
        now = int(time.time() * 1000)
        active = [st.value for st in ACTIVE_STATES]
        with self.store.session() as s:
            by_kind = {
                (d, sev, st): n
                for d, sev, st, n in s.execute(
                    select(Ticket.department, Ticket.severity, Ticket.state, func.count()).group_by(
                        Ticket.department, Ticket.severity, Ticket.state
                    )
                )
            }
            overdue_rows = s.execute(
                select(
                    Ticket.department,
                    Ticket.state,
                    Ticket.acknowledge_by,
                    Ticket.feedback_by,
                    Ticket.first_feedback_at,
                    Ticket.resolve_by,
                ).where(Ticket.state.in_(active))
            )
            overdue: dict[tuple[str, str], int] = {}
            for dept, *clocks in overdue_rows:
                for clock, _due in breached_clocks(now, *clocks):
                    overdue[(dept, clock)] = overdue.get((dept, clock), 0) + 1
            breaches = dict(
                s.execute(
                    select(Ticket.department, func.count())
                    .join(TicketEvent)
                    .where(TicketEvent.action == "escalated")
                    .group_by(Ticket.department)
                ).all()
            )
            regions = s.execute(
                select(Ticket.region, func.count())
                .where(Ticket.state.in_(active))
                .group_by(Ticket.region)
            ).all()
            deliveries = s.execute(
                select(Delivery.channel, Delivery.state, func.count()).group_by(
                    Delivery.channel, Delivery.state
                )
            ).all()
        tickets = GaugeMetricFamily(
            "yujing_tickets",
            "Tickets by department, severity and state.",
            labels=["department", "severity", "state"],
        )
        for dept in Department:
            for sev in Severity:
                for st in TicketState:
                    tickets.add_metric(
                        [dept.value, sev, st.value], by_kind.get((dept.value, sev, st.value), 0)
                    )
        yield tickets
        late = GaugeMetricFamily(
            "yujing_tickets_overdue",
            "Active tickets past an SLA clock (acknowledge 15 min, feedback 24 h, resolve 72 h).",
            labels=["department", "clock"],
        )
        for dept in Department:
            for clock in CLOCKS:
                late.add_metric([dept.value, clock], overdue.get((dept.value, clock), 0))
        yield late
        breached = CounterMetricFamily(
            "yujing_sla_breaches",
            "SLA clocks breached (each escalates its ticket once).",
            labels=["department"],
        )
        for dept in Department:
            breached.add_metric([dept.value], breaches.get(dept.value, 0))
        yield breached
        open_by_region = GaugeMetricFamily(
            "yujing_region_open_tickets", "Active tickets per region.", labels=["region"]
        )
        for region, n in regions:
            open_by_region.add_metric([region], n)
        yield open_by_region
        outbox = GaugeMetricFamily(
            "yujing_notifications",
            "Outbox deliveries by channel and state (pending, delivered, dead).",
            labels=["channel", "state"],
        )
        seen = {(c, st): n for c, st, n in deliveries}
        channels = sorted(
            {c for c, _ in seen}
            | set(self.store.notifications.channels if self.store.notifications else {})
        )
        for channel in channels:
            for st in DeliveryState:
                outbox.add_metric([channel, st.value], seen.get((channel, st.value), 0))
        yield outbox


REVIEW_DAYS = 30


class _ReviewCollector(Collector):
    """The monthly review's figures over the last ``REVIEW_DAYS`` days, for the NOC
    dashboard's SLA and alert-quality row: computed by the report's own function
    (``alerts.tickets.review.monthly_review``), so the wall and the meeting agree.

    The days end at the newest judged hour (live: now; a replay: its last hour); clocks
    are judged at the wall clock, as ``yujing report monthly`` judges them.
    """

    def __init__(self, store: TicketStore, pipeline: Pipeline) -> None:
        self.store = store
        self.pipeline = pipeline

    def collect(self) -> Iterator[Metric]:
        now = int(time.time() * 1000)
        last = self.pipeline.stats.last_judged_hour
        end = min(now, self.pipeline.clock(last)) if last is not None else now
        end = end - end % HOUR_MS + HOUR_MS
        start = end - REVIEW_DAYS * 24 * HOUR_MS
        tickets = self.store.first_fired(start, end)
        events = self.store.events_of([t.id for t in tickets])
        # false alarms per region-week over the regions this worker judges
        regions = len(self.pipeline.series.regions) or None
        review = monthly_review(tickets, events, start, end, now, regions)
        about = f"tickets first fired in the last {REVIEW_DAYS} days, as the monthly review"

        def gauge(name: str, doc: str, labels: list[str] | None = None) -> GaugeMetricFamily:
            return GaugeMetricFamily(f"yujing_review_{name}", f"{doc} ({about}).", labels=labels)

        n = gauge("tickets", "Tickets")
        n.add_metric([], review["tickets"])
        clocks = gauge("sla_clocks", "SLA clocks met, breached or running", ["clock", "state"])
        compliance = gauge("sla_compliance", "Clocks met of those due (0-1)", ["clock"])
        by_dept = gauge(
            "sla_compliance_by_department", "Clocks met of those due (0-1)", ["department", "clock"]
        )
        for clock, c in review["sla"]["by_clock"].items():
            for state in ("met", "breached", "running"):
                clocks.add_metric([clock, state], c[state])
            if c["compliance"] is not None:
                compliance.add_metric([clock], c["compliance"])
        for dept, per_clock in review["sla"]["by_department"].items():
            for clock, c in per_clock.items():
                if c["compliance"] is not None:
                    by_dept.add_metric([dept, clock], c["compliance"])
        quality = review["quality"]
        precision = gauge(
            "precision", "Confirmed faults of the tickets people judged (0-1)", ["spec"]
        )
        for spec, q in quality["by_spec"].items():
            if q["precision"] is not None:
                precision.add_metric([spec], q["precision"])
        false_alarms = gauge("false_alarms_per_region_week", "False alarms per region-week")
        false_alarms.add_metric([], quality["false_alarms_per_region_week"])
        yield from (n, clocks, compliance, by_dept, precision, false_alarms)
        for key in ("time_to_acknowledge_minutes", "time_to_resolve_hours"):
            spread = gauge(key, key.replace("_", " ").capitalize(), ["quantile"])
            for quantile, figure in (("0.5", "median"), ("0.9", "p90")):
                if quality[key][figure] is not None:
                    spread.add_metric([quantile], quality[key][figure])
            yield spread


def label_bound(regions: int, specs: list[tuple[str, int]]) -> int:
    """Most series a worker may export: regions x (categories, KPIs, watched series) + fixed.

    ``specs`` is (spec id, number of metrics it watches). Used by the cardinality test and
    documented for capacity planning of Prometheus.
    """
    per_region = (
        2 * len(CATEGORIES)
        + 3 * len(KPIS)
        + 1
        + 1
        + 4 * len(CATEGORIES)  # expected band (3) + wow (1) per complaint metric
        + sum(4 * n for _spec, n in specs)
    )  # firing, score, baseline, observed
    fixed = 2000  # pipeline counters, histogram buckets, tickets x departments, reasons...
    return regions * per_region + fixed
