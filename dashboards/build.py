"""Grafana dashboards for the NOC, as code (grafana-foundation-sdk), written as JSON.

Four dashboards: the NOC overview, a region drill-down (``$region``), the detector tuning
view and the pipeline's health. Every query is PromQL over the metrics in
monitor/metrics.py; a test runs each of them against a real Prometheus scraping a worker.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from grafana_foundation_sdk.builders import (
    bargauge,
    dashboard,
    prometheus,
    stat,
    statetimeline,
    table,
    timeseries,
)
from grafana_foundation_sdk.cog.encoder import JSONEncoder
from grafana_foundation_sdk.models.common import BarGaugeDisplayMode, VizOrientation
from grafana_foundation_sdk.models.dashboard import (
    DataSourceRef,
    DynamicConfigValue,
    FieldColorModeId,
    Threshold,
    ThresholdsMode,
    ValueMap,
    ValueMappingResult,
    VariableOption,
    VariableRefresh,
)

from alerts.notify.settings import Links

DATASOURCE = DataSourceRef(type_val="prometheus", uid="prometheus")
OVERVIEW_UID = "yujing-noc"
REGION_UID = "yujing-region"  # alerts.notify.settings.Links.region_dashboard_uid
DETECTORS_UID = "yujing-detectors"
PIPELINE_UID = "yujing-pipeline"
ACTIVE = 'state=~"open|acknowledged|in_progress"'
TAGS = ["yujing", "noc"]
# how far behind the wall clock the newest judged hour may end before the
# YujingDetectionStalled rule fires (deploy/prometheus/rules/yujing.yml; a test holds
# the two equal)
STALLED_S = 3 * 3600
# where the tickets' page is: the config's ``notifications.links.tickets`` (``yujing
# dashboards build`` and ``push`` take the operator's); a hidden constant, so the committed
# JSON has one value to change for a provisioned Grafana
TICKETS_VAR = "tickets"
FIRING_WORDS = ValueMap(
    {"0": ValueMappingResult(text="quiet"), "1": ValueMappingResult(text="firing", color="red")}
)


def q(expr: str, legend: str = "", instant: bool = False) -> prometheus.Dataquery:
    query = prometheus.Dataquery().expr(expr).datasource(DATASOURCE)
    if legend:
        query = query.legend_format(legend)
    return query.instant() if instant else query


def increase(
    counter: str, legend: str, by: str = "", over: str = "$__rate_interval"
) -> prometheus.Dataquery:
    """A counter as what it counted per interval (or, ``over="$__range"``, in the time
    range shown), never its raw running total."""
    grouping = f" by ({by}) " if by else ""
    return q(f"sum{grouping}(increase({counter}[{over}]))", legend, instant=over == "$__range")


def traffic_light(amber: float | None, red: float | None = None) -> dashboard.ThresholdsConfig:
    """Green below ``amber``, orange from it, red from ``red``: a NOC wall read at a
    glance (Grafana's default turns 80 red whatever the unit)."""
    steps = [Threshold(None, "green")]
    if amber is not None:
        steps.append(Threshold(amber, "orange"))
    if red is not None:
        steps.append(Threshold(red, "red"))
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


def good_above(red_below: float, amber_below: float) -> dashboard.ThresholdsConfig:
    """Red under ``red_below``, orange under ``amber_below``, green from it: for figures
    where more is better (SLA compliance, precision)."""
    steps = [
        Threshold(None, "red"),
        Threshold(red_below, "orange"),
        Threshold(amber_below, "green"),
    ]
    return dashboard.ThresholdsConfig().mode(ThresholdsMode.ABSOLUTE).steps(steps)


# the monthly review's figures over the last 30 days (monitor.observability.metrics,
# computed by the report's own function)
REVIEW = "SLA and alert quality (last 30 days, as the monthly review)"


def _share_bars(
    title: str, description: str, metric: str, legend: str, red: float, amber: float
) -> bargauge.Panel:
    """A 0-1 figure per label (compliance, precision) as horizontal bars, more is better."""
    return (
        bargauge.Panel()
        .title(title)
        .description(description)
        .unit("percentunit")
        .min(0)
        .max(1)
        .height(7)
        .span(8)
        .orientation(VizOrientation.HORIZONTAL)
        .thresholds(good_above(red, amber))
        .color_scheme(BY_THRESHOLDS)
        .with_target(q(metric, legend, instant=True))
    )


def _median_p90(title: str, unit: str, metric: str, amber: float, red: float) -> stat.Panel:
    """The review's median and p90 of a time, side by side."""
    panel = (
        stat.Panel()
        .title(title)
        .unit(unit)
        .height(4)
        .span(8)
        .thresholds(traffic_light(amber, red))
        .color_scheme(BY_THRESHOLDS)
    )
    for quantile, legend in (("0.5", "median"), ("0.9", "p90")):
        panel = panel.with_target(q(f'{metric}{{quantile="{quantile}"}}', legend, instant=True))
    return panel


def review_row(board: dashboard.Dashboard) -> dashboard.Dashboard:
    return (
        board.with_row(dashboard.Row(REVIEW))
        .with_panel(
            _share_bars(
                "SLA compliance per clock",
                "Clocks met of those due, for tickets first fired in the last 30 days: "
                "respond in 15 min (acknowledge), first feedback in 24 h, closed loop in 72 h.",
                "yujing_review_sla_compliance",
                "{{clock}}",
                0.8,
                0.95,
            )
        )
        .with_panel(
            table.Panel()
            .title("SLA compliance by department")
            .unit("percentunit")
            .height(7)
            .span(8)
            .with_target(
                q(
                    "yujing_review_sla_compliance_by_department",
                    "{{department}} {{clock}}",
                    instant=True,
                )
            )
        )
        .with_panel(
            _share_bars(
                "Precision per detector spec",
                "Confirmed faults of the tickets people resolved as a confirmed fault or a "
                "false alarm (the outcome recorded on resolve).",
                "yujing_review_precision",
                "{{spec}}",
                0.5,
                0.8,
            )
        )
        .with_panel(
            stat.Panel()
            .title("False alarms per region-week")
            .unit("none")
            .decimals(3)
            .height(4)
            .span(8)
            .thresholds(traffic_light(0.01, 0.05))
            .color_scheme(BY_THRESHOLDS)
            .with_target(q("yujing_review_false_alarms_per_region_week", instant=True))
        )
        # the 15-minute promise; the 72-hour closed loop
        .with_panel(
            _median_p90(
                "Time to acknowledge (median, p90)",
                "m",
                "yujing_review_time_to_acknowledge_minutes",
                10,
                15,
            )
        )
        .with_panel(
            _median_p90(
                "Time to resolve (median, p90)", "h", "yujing_review_time_to_resolve_hours", 48, 72
            )
        )
    )


BY_THRESHOLDS = dashboard.FieldColor().mode(FieldColorModeId.THRESHOLDS)
# one colour for a figure that is neither good nor bad (a count of reloads, an hour):
# left to Grafana's default thresholds, every one from 80 up was red, so the newest
# judged hour (an epoch) and the event-time lag (seconds) were red on a healthy wall
NEUTRAL = dashboard.FieldColor().mode(FieldColorModeId.FIXED).fixed_color("blue")


def to_region() -> list[dashboard.DashboardLink]:
    """A data link from a value with a ``region`` label to that region's drill-down, over
    the time range shown."""
    return [
        dashboard.DashboardLink("Open region ${__field.labels.region}").url(
            f"/d/{REGION_UID}/region?var-region=${{__field.labels.region}}&${{__url_time_range}}"
        )
    ]


def _base(uid: str, title: str, description: str) -> dashboard.Dashboard:
    return (
        dashboard.Dashboard(title)
        .uid(uid)
        .tags(TAGS)
        .description(description)
        .refresh("1m")
        .time("now-7d", "now")
        .timezone("browser")
        .editable()
        .link(
            dashboard.DashboardLink("Yujing")
            .type("dashboards")
            .tags(["yujing"])
            .as_dropdown(True)
            .include_vars(False)
            .keep_time(True)
        )
    )


def tickets_variable(url: str) -> dashboard.ConstantVariable:
    return (
        dashboard.ConstantVariable(TICKETS_VAR)
        .description("The tickets' page (yujing api), from the config's links.tickets")
        .value(url)
    )


def tickets_link(title: str, query: str = "") -> dashboard.DashboardLink:
    """A panel's link to the tickets' page: the count on the wall opens the queue it
    counts (the overview's "Open tickets" led nowhere)."""
    return dashboard.DashboardLink(title).url(f"${{{TICKETS_VAR}:raw}}{query}").target_blank(True)


def overview(tickets_url: str) -> dashboard.Dashboard:
    board = (
        _base(
            OVERVIEW_UID,
            "Yujing — NOC overview",
            "Where to look first: regions ranked by current risk, open and overdue "
            "tickets, and which series the detectors find anomalous.",
        )
        .with_variable(tickets_variable(tickets_url))
        .with_row(dashboard.Row("Now"))
        .with_panel(
            stat.Panel()
            .title("Open tickets")
            .unit("none")
            .height(4)
            .span(6)
            .thresholds(traffic_light(1))
            .color_scheme(BY_THRESHOLDS)
            .links([tickets_link("The tickets people work")])
            .with_target(q(f"sum(yujing_tickets{{{ACTIVE}}})", instant=True))
        )
        .with_panel(
            stat.Panel()
            .title("Overdue tickets (any SLA clock)")
            .unit("none")
            .height(4)
            .span(6)
            .thresholds(traffic_light(None, 1))
            .color_scheme(BY_THRESHOLDS)
            .links([tickets_link("The tickets people work, each with its next due time")])
            .with_target(q("sum(yujing_tickets_overdue)", instant=True))
        )
        .with_panel(
            stat.Panel()
            .title("Firing series")
            .unit("none")
            .height(4)
            .span(6)
            .thresholds(traffic_light(1))
            .color_scheme(BY_THRESHOLDS)
            .with_target(q("sum(yujing_detector_firing)", instant=True))
        )
        .with_panel(
            stat.Panel()
            .title("Judged up to")
            .description(
                "The end of the newest hour the detectors judged (event time): the hour "
                "before it is the latest one on this wall."
            )
            .height(4)
            .span(6)
            .unit("dateTimeAsIso")
            .color_scheme(NEUTRAL)
            .with_target(q("max(yujing_last_closed_hour_timestamp_seconds) * 1000", instant=True))
        )
        .with_panel(
            bargauge.Panel()
            .title("Regions by current risk")
            .unit("none")
            .height(10)
            .span(12)
            .description(
                "Firing detector specs plus the largest positive week-over-week "
                "complaint change (0.2 = +20%)."
            )
            .orientation(VizOrientation.HORIZONTAL)
            .display_mode(BarGaugeDisplayMode.GRADIENT)
            .thresholds(traffic_light(0.2, 1))  # +20% week over week; a firing spec
            .color_scheme(BY_THRESHOLDS)
            .data_links(to_region())
            .with_target(q("topk(15, yujing_region_risk_score)", "{{region}}", instant=True))
        )
        .with_panel(
            table.Panel()
            .title("Open and overdue tickets by department")
            .unit("none")
            .height(10)
            .span(12)
            .links([tickets_link("The tickets people work")])
            .with_target(
                q(
                    f"sum by (department, severity) (yujing_tickets{{{ACTIVE}}})",
                    "{{department}} {{severity}}",
                    instant=True,
                )
            )
            .with_target(
                q(
                    "sum by (department, clock) (yujing_tickets_overdue)",
                    "{{department}} overdue {{clock}}",
                    instant=True,
                )
            )
        )
        .with_row(dashboard.Row("Detectors"))
        .with_panel(
            statetimeline.Panel()
            .title("Firing series (region / metric / spec)")
            .unit("none")
            .height(12)
            .span(24)
            # a firing series drawn green (Grafana's default: red only from 80) read as fine
            .thresholds(traffic_light(None, 1))
            .color_scheme(BY_THRESHOLDS)
            .mappings([FIRING_WORDS])
            .data_links(to_region())
            .with_target(q("yujing_detector_firing", "{{region}} {{metric}} {{spec}}"))
        )
    )
    return review_row(board)


# Grafana's unit for a taxonomy unit it knows: the series of that unit are shown in it
GRAFANA_UNITS = {"%": "percent", "ms": "ms", "s": "s", "dBm": "dBm", "Mbps": "Mbits"}


def kpi_panel(sel: str) -> timeseries.Panel:
    """A panel per KPI (repeated over ``$kpi``), each on its own axis with its unit from
    ``yujing_kpi_info``. One panel of "utilisation and packet loss" in percent drew a
    packet loss rising from 0.3 to 0.9 % as a flat line under utilisation's 40-95 %, and
    put an operator's own KPIs (dBm, Mbps) on that percent axis too."""
    panel = (
        timeseries.Panel()
        .title("$kpi (hourly mean and p95 over the region's sites)")
        .unit("none")
        .height(8)
        .span(12)
        .repeat("kpi")
        .repeat_direction("h")
    )
    for statistic in ("mean", "p95"):
        panel = panel.with_target(
            q(
                f'yujing_region_kpi{{{sel}, kpi=~"$kpi", stat="{statistic}"}} '
                "* on (kpi) group_left (unit) yujing_kpi_info",
                f"{statistic} ({{{{unit}}}})",
            )
        )
    for unit, grafana in GRAFANA_UNITS.items():
        panel = panel.override_by_regexp(
            rf".*\({re.escape(unit)}\)$",
            [DynamicConfigValue(id_val="unit", value=grafana)],
        )
    return panel


def region(tickets_url: str) -> dashboard.Dashboard:
    sel = 'region="$region"'
    return (
        _base(
            REGION_UID,
            "Yujing — region drill-down",
            "One region: complaints by category against their hour-of-week baseline, "
            "week-over-week change, the network KPIs in the same hours, findings and "
            "tickets.",
        )
        .link(
            dashboard.DashboardLink("NOC overview")
            .type("link")
            .url(f"/d/{OVERVIEW_UID}/noc-overview")
            .keep_time(True)
        )
        .with_variable(
            dashboard.QueryVariable("region")
            .label("Region")
            .datasource(DATASOURCE)
            .query("label_values(yujing_region_complaints, region)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(1)
        )
        .with_variable(
            dashboard.QueryVariable("kpi")
            .label("KPI")
            .datasource(DATASOURCE)
            .query(f"label_values(yujing_region_kpi{{{sel}}}, kpi)")
            .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
            .multi(True)
            .include_all(True)
            .current(VariableOption(selected=True, text="All", value="$__all"))
            .sort(1)
        )
        .with_variable(tickets_variable(tickets_url))
        .annotation(
            dashboard.AnnotationQuery()
            .name("Findings")
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color("red")
            .expr(f"yujing_detector_firing{{{sel}}} == 1")
        )
        .annotation(
            dashboard.AnnotationQuery()
            .name("Open tickets")
            .datasource(DATASOURCE)
            .enable(True)
            .icon_color("orange")
            .expr(f"yujing_region_open_tickets{{{sel}}} > 0")
        )
        .with_row(dashboard.Row("Complaints"))
        .with_panel(
            timeseries.Panel()
            .title("Complaints by category (latest closed hour)")
            .unit("suffix: /h")
            .height(9)
            .span(12)
            .with_target(q(f"yujing_region_complaints{{{sel}}}", "{{category}}"))
        )
        .with_panel(
            timeseries.Panel()
            .title("Watched series against their hour-of-week band")
            .unit("suffix: /h")
            .height(9)
            .span(12)
            .with_target(q(f'yujing_series_expected{{{sel}, bound="lower"}}', "{{metric}} lower"))
            .with_target(q(f'yujing_series_expected{{{sel}, bound="upper"}}', "{{metric}} upper"))
            .with_target(
                q(f'yujing_series_expected{{{sel}, bound="median"}}', "{{metric}} expected")
            )
            .with_target(
                q(f'yujing_series_expected{{{sel}, bound="observed"}}', "{{metric}} observed")
            )
        )
        .with_panel(
            timeseries.Panel()
            .title("Week-over-week change")
            .unit("percentunit")
            .height(8)
            .span(12)
            .with_target(q(f"yujing_series_wow_change_ratio{{{sel}}}", "{{metric}}"))
        )
        .with_panel(
            timeseries.Panel()
            .title("Complaints per 10k subscribers")
            .unit("suffix: /10k subs")
            .height(8)
            .span(12)
            .with_target(
                q(f"yujing_region_complaint_rate_per_10k_subscribers{{{sel}}}", "{{category}}")
            )
        )
        .with_row(dashboard.Row("Network"))
        .with_panel(kpi_panel(sel))
        .with_row(dashboard.Row("Findings and tickets"))
        .with_panel(
            table.Panel()
            .title("Latest findings: observed vs baseline")
            .unit("none")
            .height(8)
            .span(12)
            .with_target(
                q(f"yujing_detector_observed{{{sel}}}", "{{metric}} {{spec}}", instant=True)
            )
            .with_target(
                q(f"yujing_detector_baseline{{{sel}}}", "{{metric}} {{spec}}", instant=True)
            )
        )
        .with_panel(
            stat.Panel()
            .title("Open tickets in the region")
            .unit("none")
            .thresholds(traffic_light(1))  # as the overview's open tickets
            .color_scheme(BY_THRESHOLDS)
            .links(
                [
                    tickets_link(
                        "The region's open tickets", "?state=active&region=${region:percentencode}"
                    )
                ]
            )
            .height(8)
            .span(12)
            .with_target(q(f"sum(yujing_region_open_tickets{{{sel}}}) or vector(0)", instant=True))
        )
    )


def detectors() -> dashboard.Dashboard:
    return (
        _base(
            DETECTORS_UID,
            "Yujing — detector tuning",
            "For engineers tuning detectors: how often each spec fires, its scores, "
            "what cooldowns and mutes hold back, and config reloads.",
        )
        .with_panel(
            timeseries.Panel()
            .title("Findings per hour (all specs)")
            .unit("none")
            .height(8)
            .span(12)
            .with_target(
                q("sum(rate(yujing_findings_total[$__rate_interval])) * 3600", "findings/h")
            )
        )
        .with_panel(
            bargauge.Panel()
            .title("Firing series by spec")
            .unit("none")
            .color_scheme(NEUTRAL)
            .height(8)
            .span(12)
            .with_target(q("sum by (spec) (yujing_detector_firing)", "{{spec}}", instant=True))
        )
        .with_panel(
            timeseries.Panel()
            .title("Scores of the latest findings")
            .unit("none")
            .height(8)
            .span(12)
            .with_target(q("max by (spec) (yujing_detector_score)", "{{spec}}"))
        )
        .with_panel(
            bargauge.Panel()
            .title("Series not judged, by spec and reason (no data, history, gaps)")
            .unit("none")
            .color_scheme(NEUTRAL)
            .description(
                "Each detector needs some known hours of a series before it can judge it "
                "(burst: two days; week over week: about two weeks). A new region, or a "
                "feed with gaps, is counted here instead of being passed over in silence."
            )
            .height(8)
            .span(12)
            .with_target(
                q(
                    "sum by (spec, reason) (yujing_series_unjudged)",
                    "{{spec}} ({{reason}})",
                    instant=True,
                )
            )
        )
        .with_panel(
            timeseries.Panel()
            .title("Held back: cooldown and mutes (findings per interval)")
            .unit("none")
            .height(8)
            .span(12)
            .with_target(increase("yujing_findings_suppressed_total", "cooldown"))
            .with_target(increase("yujing_findings_muted_total", "muted"))
        )
        .with_panel(
            stat.Panel()
            .title("Config reloads / rejected (in the time range)")
            .unit("none")
            .color_scheme(NEUTRAL)
            .height(6)
            .span(12)
            .with_target(increase("yujing_config_reloads_total", "applied", over="$__range"))
            .with_target(
                increase("yujing_config_reload_failures_total", "rejected", over="$__range")
            )
        )
        .with_panel(
            stat.Panel()
            .title("Tickets opened / recovered (in the time range)")
            .unit("none")
            .color_scheme(NEUTRAL)
            .height(6)
            .span(12)
            .with_target(increase("yujing_tickets_opened_total", "opened", over="$__range"))
            .with_target(increase("yujing_tickets_recovered_total", "recovered", over="$__range"))
        )
    )


def pipeline() -> dashboard.Dashboard:
    return (
        _base(
            PIPELINE_UID,
            "Yujing — pipeline health",
            "Is the monitor itself healthy: input rate, dead letters by reason, late "
            "events, consumer lag, processing time, the newest closed hour, notifications.",
        )
        .with_panel(
            timeseries.Panel()
            .title("Events per second")
            .unit("ops")
            .height(8)
            .span(12)
            .with_target(q("sum(rate(yujing_events_received_total[$__rate_interval]))", "received"))
            .with_target(q("sum(rate(yujing_events_accepted_total[$__rate_interval]))", "accepted"))
        )
        .with_panel(
            timeseries.Panel()
            .title("Dead letters by reason (per interval)")
            .unit("none")
            .height(8)
            .span(12)
            .with_target(increase("yujing_dead_letters_total", "{{reason}}", by="reason"))
        )
        .with_panel(
            timeseries.Panel()
            .title("Late events (per interval)")
            .unit("none")
            .height(8)
            .span(12)
            .with_target(increase("yujing_late_events_total", "{{outcome}}", by="outcome"))
        )
        .with_panel(
            timeseries.Panel()
            .title("Consumer lag")
            .unit("short")
            .height(8)
            .span(12)
            .with_target(q("sum by (topic) (yujing_consumer_lag_messages)", "{{topic}}"))
        )
        .with_panel(
            timeseries.Panel()
            .title("Processing time p50 / p99")
            .unit("s")
            .height(8)
            .span(12)
            .with_target(
                q(
                    "histogram_quantile(0.99, sum by (le, stage) "
                    "(rate(yujing_processing_seconds_bucket[$__rate_interval])))",
                    "p99 {{stage}}",
                )
            )
            .with_target(
                q(
                    "histogram_quantile(0.5, sum by (le, stage) "
                    "(rate(yujing_processing_seconds_bucket[$__rate_interval])))",
                    "p50 {{stage}}",
                )
            )
        )
        .with_panel(
            stat.Panel()
            .title("Event time behind wall clock")
            .description(
                "Now less the end of the newest judged hour. Hours close when their events "
                "have come, so a healthy pipeline stays under an hour (plus the watermark "
                "delay); orange from 2 h, red from 3 h, when YujingDetectionStalled fires."
            )
            .unit("s")
            .thresholds(traffic_light(2 * 3600, STALLED_S))
            .color_scheme(BY_THRESHOLDS)
            .height(8)
            .span(12)
            .with_target(q("time() - max(yujing_last_closed_hour_timestamp_seconds)", instant=True))
        )
        .with_panel(
            timeseries.Panel()
            .title("Notifications by state")
            .unit("none")
            .height(8)
            .span(12)
            .with_target(q("sum by (state) (yujing_notifications)", "{{state}}"))
        )
        .with_panel(
            timeseries.Panel()
            .title("SLA breaches (per interval)")
            .unit("none")
            .height(8)
            .span(12)
            .with_target(increase("yujing_sla_breaches_total", "{{department}}", by="department"))
        )
    )


def build_all(tickets_url: str = Links().tickets) -> dict[str, dict[str, Any]]:
    """name -> dashboard JSON model (plain dicts, stable key order); ``tickets_url``: where
    the ticket panels link (the config's ``notifications.links.tickets``)."""
    boards = {
        "noc-overview": overview(tickets_url),
        "region": region(tickets_url),
        "detector-tuning": detectors(),
        "pipeline-health": pipeline(),
    }
    encoder = JSONEncoder(sort_keys=True, indent=2)
    return {name: orjson.loads(encoder.encode(board.build())) for name, board in boards.items()}


def render(model: dict[str, Any]) -> bytes:
    return orjson.dumps(model, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n"


def write_all(out_dir: Path, tickets_url: str = Links().tickets) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, model in build_all(tickets_url).items():
        path = out_dir / f"{name}.json"
        path.write_bytes(render(model))
        paths.append(path)
    return paths


@dataclass(frozen=True)
class PanelQuery:
    dashboard: str
    panel: str
    expr: str


def queries(models: dict[str, dict[str, Any]]) -> Iterator[PanelQuery]:
    """Every PromQL expression of every panel and annotation, for the query check."""
    for name, model in models.items():
        for panel in model.get("panels", []):
            for target in panel.get("targets", []) or []:
                if target.get("expr"):
                    yield PanelQuery(name, panel.get("title", "?"), target["expr"])
        for annotation in model.get("annotations", {}).get("list", []):
            if annotation.get("expr"):
                yield PanelQuery(name, f"annotation: {annotation.get('name')}", annotation["expr"])
