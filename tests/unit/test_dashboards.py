"""Dashboards as code: stable output, committed JSON up to date, links that resolve."""

from __future__ import annotations

from alerts.notify.settings import Links
from dashboards.build import REGION_UID, build_all, queries, render
from tests.conftest import ROOT

JSON_DIR = ROOT / "dashboards" / "json"


def test_building_twice_gives_the_same_json():
    first, second = build_all(), build_all()
    assert {k: render(v) for k, v in first.items()} == {k: render(v) for k, v in second.items()}


def test_committed_json_is_up_to_date_with_the_code():
    stale = [
        name
        for name, model in build_all().items()
        if not (JSON_DIR / f"{name}.json").exists()
        or (JSON_DIR / f"{name}.json").read_bytes() != render(model)
    ]
    assert stale == [], f"run `yujing dashboards build`: {stale} differ from the code"


def test_the_four_dashboards_and_their_variables():
    models = build_all()
    assert set(models) == {"noc-overview", "region", "detector-tuning", "pipeline-health"}
    assert len({m["uid"] for m in models.values()}) == 4
    region = models["region"]
    assert [v["name"] for v in region["templating"]["list"]] == ["region", "kpi", "tickets"]
    assert {a["name"] for a in region["annotations"]["list"]} >= {"Findings", "Open tickets"}
    for name, model in models.items():
        for panel in model["panels"]:
            if panel["type"] == "row":
                continue
            assert panel.get("targets"), f"{name}: panel {panel['title']} has no query"
            for target in panel["targets"]:
                assert target["datasource"]["uid"] == "prometheus"


def test_notification_links_open_the_region_dashboard():
    assert Links().region_dashboard_uid == REGION_UID


def test_the_ticket_counts_open_the_tickets_page_the_config_names():
    """ "Open tickets: 3" on the wall led nowhere: the count now opens the queue it counts,
    at the address the config gives the messages' links (``links.tickets``)."""
    url = "https://noc.example.net/yujing/tickets"
    models = build_all(url)
    linked = {
        (name, panel["title"]): [link["url"] for link in panel.get("links", [])]
        for name in ("noc-overview", "region")  # the queues; not the tuning view's history
        for panel in models[name]["panels"]
        if "tickets" in panel["title"].lower() and panel["type"] != "row"
    }
    assert linked == {
        ("noc-overview", "Open tickets"): ["${tickets:raw}"],
        ("noc-overview", "Overdue tickets (any SLA clock)"): ["${tickets:raw}"],
        ("noc-overview", "Open and overdue tickets by department"): ["${tickets:raw}"],
        ("region", "Open tickets in the region"): [
            "${tickets:raw}?state=active&region=${region:percentencode}"
        ],
    }
    for name in ("noc-overview", "region"):
        (variable,) = [v for v in models[name]["templating"]["list"] if v["name"] == "tickets"]
        assert variable["type"] == "constant" and variable["query"] == url
    default = build_all()["noc-overview"]["templating"]["list"]
    assert [v["query"] for v in default if v["name"] == "tickets"] == [Links().tickets]


def test_every_query_names_only_yujing_metrics():
    for q in queries(build_all()):
        assert "yujing_" in q.expr, q


def test_counters_and_histograms_are_never_plotted_raw():
    """A counter's raw value only grows (a restart sends it back to zero); a histogram's
    raw buckets are totals since start. Panels show rates or increases of both."""
    import re

    raw = re.compile(r"yujing_\w+_(?:total|bucket)\b")
    wrapped = re.compile(r"(?:rate|irate|increase)\(\s*(yujing_\w+_(?:total|bucket))\b")
    bad = []
    for q in queries(build_all()):
        inside = set(wrapped.findall(q.expr))
        for name in raw.findall(q.expr):
            if name not in inside:
                bad.append(f"{q.dashboard} / {q.panel}: {q.expr}")
    assert bad == []


def test_the_overview_links_each_region_to_its_drill_down_and_back():
    models = build_all()
    overview = models["noc-overview"]
    linked = [
        p["title"]
        for p in overview["panels"]
        for link in p.get("fieldConfig", {}).get("defaults", {}).get("links", [])
        if link["url"].startswith("/d/yujing-region/")
        and "var-region=${__field.labels.region}" in link["url"]
    ]
    assert "Regions by current risk" in linked
    assert "Firing series (region / metric / spec)" in linked
    back = [link.get("url", "") for link in models["region"]["links"]]
    assert "/d/yujing-noc/noc-overview" in back


def test_the_overview_colours_what_needs_attention():
    """Grafana's default thresholds (red from 80) made 3 overdue tickets green."""
    panels = {p["title"]: p for p in build_all()["noc-overview"]["panels"]}

    def steps(title: str) -> list[tuple[float | None, str]]:
        defaults = panels[title]["fieldConfig"]["defaults"]
        assert defaults["color"]["mode"] == "thresholds", title
        return [(s["value"], s["color"]) for s in defaults["thresholds"]["steps"]]

    assert steps("Overdue tickets (any SLA clock)") == [(None, "green"), (1, "red")]
    assert steps("Open tickets")[1] == (1, "orange")
    assert steps("Regions by current risk") == [(None, "green"), (0.2, "orange"), (1, "red")]
    # more is better: red under 80% compliance, green from 95%
    assert steps("SLA compliance per clock") == [(None, "red"), (0.8, "orange"), (0.95, "green")]
    assert steps("Time to acknowledge (median, p90)")[-1] == (15, "red")  # the promise


def test_every_figure_panel_states_its_colours():
    """Left to Grafana's defaults, a stat, bar gauge or state timeline is green below 80
    and red from it, whatever it shows: the newest judged hour (an epoch) and the
    event-time lag (seconds) were red on a healthy wall, and a firing series green."""
    import yaml

    from dashboards.build import STALLED_S

    default = []
    for name, model in build_all().items():
        for p in model["panels"]:
            if p.get("type") not in ("stat", "bargauge", "gauge", "state-timeline"):
                continue
            defaults = p["fieldConfig"]["defaults"]
            mode = defaults.get("color", {}).get("mode")
            if not (mode == "fixed" or (mode == "thresholds" and "thresholds" in defaults)):
                default.append(f"{name}: {p['title']}")
    assert default == []
    panels = {p["title"]: p for m in build_all().values() for p in m["panels"]}
    firing = panels["Firing series (region / metric / spec)"]["fieldConfig"]["defaults"]
    assert [(s["value"], s["color"]) for s in firing["thresholds"]["steps"]] == [
        (None, "green"), (1, "red"),
    ]  # fmt: skip
    lag = panels["Event time behind wall clock"]["fieldConfig"]["defaults"]["thresholds"]
    assert lag["steps"][-1] == {"color": "red", "value": STALLED_S}
    rules = yaml.safe_load((ROOT / "deploy/prometheus/rules/yujing.yml").read_text())
    stalled = next(
        r for g in rules["groups"] for r in g["rules"] if r.get("alert") == "YujingDetectionStalled"
    )
    assert stalled["expr"].endswith("> 3 * 3600") and STALLED_S == 3 * 3600  # one threshold


def test_every_panel_states_its_unit():
    """A count, a percentage and a latency read alike without one: Grafana guesses."""
    unitless = [
        f"{name}: {p['title']}"
        for name, model in build_all().items()
        for p in model["panels"]
        if p.get("type") != "row" and not p.get("fieldConfig", {}).get("defaults", {}).get("unit")
    ]
    assert unitless == []


def test_each_kpi_has_a_panel_of_its_own_in_its_unit():
    """One "utilisation and packet loss" panel in percent drew packet loss (0.3-0.9 %) as
    a flat line under utilisation (40-95 %), and an operator's own KPIs on that axis."""
    panels = build_all()["region"]["panels"]
    (kpi,) = [p for p in panels if p.get("repeat") == "kpi"]
    assert "$kpi" in kpi["title"]
    for target in kpi["targets"]:
        assert 'kpi=~"$kpi"' in target["expr"]
        assert "group_left (unit) yujing_kpi_info" in target["expr"]
        assert target["legendFormat"].endswith("({{unit}})")
    units = {
        o["matcher"]["options"]: o["properties"][0]["value"]
        for o in kpi["fieldConfig"]["overrides"]
    }
    assert units[r".*\(%\)$"] == "percent" and units[r".*\(ms\)$"] == "ms"
    assert not any("latency" in p.get("title", "") for p in panels)  # no KPI by name
