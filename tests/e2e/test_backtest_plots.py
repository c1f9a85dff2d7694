"""Backtest plots read without looking at them: their axes carry dates in the operator's
zone, their titles name the ticket, and their artists show what the detector judged."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from importlib import resources

import matplotlib.dates as mdates
import numpy as np

from alerts.zones import local_iso
from detectors.timeaxis import HOUR_MS as HOUR
from monitor.config.load import load_config, parse_config
from monitor.detection.hourly_file import HourlySeries
from monitor.lab.backtest import run_backtest_series
from monitor.lab.labels import ANY_METRIC
from monitor.lab.plots import plot_ticket, plot_tickets
from monitor.lab.simulate_events import Label, SimConfig
from monitor.lab.simulate_hourly import simulate_hourly


def _fired_at(ax) -> np.ndarray:
    """Where a plot's fired points are (date numbers), whichever detector fired them."""
    return np.concatenate([points.get_offsets()[:, 0] for points in ax.collections])


def test_each_ticket_plot_explains_its_detection(tmp_path):
    config = load_config()
    series, labels = simulate_hourly(SimConfig(seed=2, regions=8), config.metrics_needed())
    result = run_backtest_series(config, series, labels, keep_series=set(config.metrics_needed()))
    zone = config.zone
    assert config.timezone == "+08:00"
    by_detector = {t.detector: t for t in result.tickets}
    assert "site_fault" in by_detector, "the failing site is ticketed (two-signal plot)"
    for ticket in result.tickets:
        fig = plot_ticket(result, ticket, labels, config)
        assert fig is not None
        axes = fig.get_axes()
        bottom = axes[-1]
        assert isinstance(bottom.xaxis.get_major_formatter(), mdates.DateFormatter)
        assert bottom.get_xlabel() == "local time (UTC+08:00)"
        assert fig._suptitle.get_text().startswith(f"#{ticket.id} {ticket.region}")
        # opened when its first fired hour was judged, as the run's ticket list says
        opened = local_iso(ticket.opened_at, zone)[:16].replace("T", " ")
        assert fig._suptitle.get_text().endswith(f"opened {opened}")
        assert ticket.opened_at == ticket.first_hour + 3_600_000
        legend = [t.get_text() for t in axes[0].get_legend().get_texts()]
        assert "ticket opened" in legend and "normal the detector expected (per hour)" in legend
        if ticket.detector == "site_fault":
            kpi_lines = [line.get_label() for line in axes[1].get_lines()]
            assert len(axes) == 2 and "kpi.packet_loss.mean" in kpi_lines
            assert axes[1].get_ylabel() == "packet_loss mean (%)"  # it read "packet_loss"
        if ticket.detector in ("site_fault", "peak_congestion"):
            # what the detector read of the KPI, beside the series: the reason it fired
            kpi_legend = [t.get_text() for t in axes[1].get_legend().get_texts()]
            assert "fired: what the detector read" in kpi_legend, kpi_legend
            compared = "usual level the detector compared"
            if ticket.detector == "site_fault":
                assert compared in kpi_legend
            else:
                assert "limit 90" in kpi_legend and compared not in kpi_legend
        assert axes[0].get_ylabel() == "complaints per hour"  # it read "complaints"
        own = [
            f.finding
            for f in result.findings
            if (f.finding.region, f.finding.metric) == (ticket.region, ticket.metric)
            and ticket.first_hour <= f.finding.hour <= ticket.last_fired_hour
        ]
        if any(f.limit is not None for f in own):
            assert any(text.startswith("limit ") for text in legend)  # fmt: skip
        # the fired points are the ticket's own, from its first fired hour to its last (a
        # capacity ticket's plot drew a later site fault's on its series)
        # (one set of points per detector, when more than one fired it)
        first, last = (mdates.date2num(datetime.fromtimestamp(h / 1000, UTC)) for h in
                       (ticket.first_hour, ticket.last_fired_hour))  # fmt: skip
        xs = _fired_at(axes[0])
        assert first - 1e-6 <= xs.min() and xs.max() <= last + 1e-6, ticket.id
    # a finding on the series a day after the ticket's last (another ticket's) is not drawn
    ticket = result.tickets[0]
    (stray,) = [
        f
        for f in result.findings
        if (f.finding.region, f.finding.metric, f.finding.hour)
        == (ticket.region, ticket.metric, ticket.last_fired_hour)
    ][:1]
    later = replace(stray.finding, hour=ticket.last_fired_hour + 24 * 3_600_000)
    result.findings.append(replace(stray, finding=later))
    drawn = _fired_at(plot_ticket(result, ticket, labels, config).get_axes()[0])
    last = mdates.date2num(datetime.fromtimestamp(ticket.last_fired_hour / 1000, UTC))
    assert drawn.max() <= last + 1e-6
    # an earlier run's plot is not left beside this run's, as if this run had opened it
    stale, notes = tmp_path / "ticket-0999__region-9__complaints.total.png", tmp_path / "x.txt"
    stale.write_bytes(b"old")
    notes.write_text("mine")
    written = plot_tickets(result, labels, tmp_path, config)
    assert len(written) == len(result.tickets) and all(p.stat().st_size > 10_000 for p in written)
    assert sorted(tmp_path.glob("*.png")) == sorted(written) and notes.exists()


def test_a_two_signal_plot_draws_the_kpi_its_config_named(tmp_path):
    """The KPI beneath a site fault's plot is the one its spec (or the region's override)
    read: it was packet loss whatever the config said."""
    default = load_config()
    kept = {*default.metrics_needed(), "kpi.bandwidth_utilisation.mean", "kpi.packet_loss.p95"}
    series, labels = simulate_hourly(SimConfig(seed=2, regions=8), sorted(kept))
    result = run_backtest_series(default, series, labels, keep_series=kept)
    ticket = next(t for t in result.tickets if t.detector == "site_fault")
    text = resources.files("monitor.config").joinpath("default_config.yaml").read_text()
    other = "kpi_metric: kpi.bandwidth_utilisation.mean"
    spec = text.replace("kpi_metric: kpi.packet_loss.mean", other)
    assert spec != text
    overridden = text.replace(
        "             kpi_min_delta: 0.05}",
        "             kpi_min_delta: 0.05}\n"
        f"    overrides: [{{regions: [{ticket.region}],\n"
        "                 params: {kpi_metric: kpi.packet_loss.p95}}]",
    )
    assert overridden != text
    for config, drawn, unit in (
        (parse_config(spec), "kpi.bandwidth_utilisation.mean", "bandwidth_utilisation mean (%)"),
        (parse_config(overridden), "kpi.packet_loss.p95", "packet_loss p95 (%)"),
    ):
        axes = plot_ticket(result, ticket, labels, config).get_axes()
        drawn_lines = [line.get_label() for line in axes[1].get_lines()]
        assert drawn in drawn_lines and "kpi.packet_loss.mean" not in drawn_lines
        assert axes[1].get_ylabel() == unit


def test_a_ticket_that_refires_months_later_is_drawn_at_its_opening(tmp_path):
    """A staffed NOC's ticket that re-fired months after it opened was drawn over the
    whole span: the hours that opened it were a few pixels wide, and the explanation
    above them was the latest re-fire's. Its opening is drawn now, the whole ticket on a
    strip beneath, with the labelled windows of a NAB-style file (a whole region's)."""
    config = load_config()
    hours = 16 * 7 * 24
    first = 1_404_172_800_000  # 2014-07-01T00:00Z, a Tuesday
    rng = np.random.default_rng(5)
    values = rng.poisson(200 + 80 * np.sin(np.arange(hours) / 24 * 2 * np.pi)).astype(float)
    opening, later = 4 * 7 * 24 + 10, 14 * 7 * 24 + 10
    values[opening] = values[later] = 2_000
    series = HourlySeries(["nyc"], first, {"complaints.total": values[None, :]})
    window = Label("nyc-window-1", "window", "nyc", ANY_METRIC,
                   first + (later - 12) * HOUR, first + (later + 12) * HOUR)  # fmt: skip
    kept = {"complaints.total"}
    result = run_backtest_series(config, series, [window], keep_series=kept, noc="staffed")
    (ticket,) = [t for t in result.tickets if t.metric == "complaints.total"]
    assert ticket.first_hour == first + opening * HOUR and ticket.occurrences >= 2
    fig = plot_ticket(result, ticket, [window], config)
    top, whole = fig.get_axes()
    assert whole.get_title(loc="left") == "the whole ticket"
    # the view ends a few days after the opening, not months later at the re-fire
    view_end = mdates.num2date(top.get_xlim()[1]).timestamp() * 1000
    assert view_end <= ticket.first_hour + 3 * 24 * HOUR
    opened = next(f.finding for f in result.findings if f.finding.hour == ticket.first_hour)
    assert opened.explanation in top.get_title().replace("\n", " ")
    assert "2,000 this hour" in top.get_title()
    legend = [t.get_text() for t in whole.get_legend().get_texts()]
    assert "re-fired (1x)" in legend and "incident (window)" in legend, legend
    # a short ticket keeps one view
    short = replace(ticket, last_fired_hour=ticket.first_hour, recovered_at=None)
    assert len(plot_ticket(result, short, [window], config).get_axes()) == 1


def test_a_ticket_fired_by_two_detectors_names_each_on_its_points(tmp_path):
    """A series' ticket opened by one detector and joined by another drew all its points
    as "fired", under a title naming the first: a burst read as a drop."""
    config = load_config()
    first = 1_404_172_800_000  # 2014-07-01T00:00Z
    rng = np.random.default_rng(6)
    values = rng.poisson(40, 5 * 168).astype(float)
    values[420:] = rng.poisson(60, values.size - 420)  # a week-over-week rise from here
    values[500] = 900.0  # and a burst the day after it is told
    metric = "complaints.unclear_terms"
    series = HourlySeries(["a"], first, {metric: values[None, :]})
    result = run_backtest_series(config, series, [], keep_series={metric}, noc="staffed")
    (ticket,) = result.tickets
    assert ticket.detector == "wow"
    top = plot_ticket(result, ticket, [], config).get_axes()[0]
    legend = [t.get_text() for t in top.get_legend().get_texts()]
    fired = [text for text in legend if text.startswith("fired")]
    assert fired == [
        "fired by wow: observed (per hour of its window)",
        "fired by burst: observed (per hour of its window)",
    ], legend
