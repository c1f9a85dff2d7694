"""Backtest plots read without looking at them: their axes carry dates in the operator's
zone, their titles name the ticket, and their artists show what the detector judged."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import matplotlib.dates as mdates

from alerts.zones import local_iso, zone_of
from monitor.config.load import load_config
from monitor.lab.backtest import run_backtest_series
from monitor.lab.plots import plot_ticket, plot_tickets
from monitor.lab.simulate_events import SimConfig
from monitor.lab.simulate_hourly import simulate_hourly


def test_each_ticket_plot_explains_its_detection(tmp_path):
    config = load_config()
    series, labels = simulate_hourly(SimConfig(seed=2, regions=8), config.metrics_needed())
    result = run_backtest_series(config, series, labels, keep_series=set(config.metrics_needed()))
    zone = zone_of("+08:00")
    by_detector = {t.detector: t for t in result.tickets}
    assert "site_fault" in by_detector, "the failing site is ticketed (two-signal plot)"
    for ticket in result.tickets:
        fig = plot_ticket(result, ticket, labels, zone)
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
        (fired,) = axes[0].collections
        first, last = (mdates.date2num(datetime.fromtimestamp(h / 1000, UTC)) for h in
                       (ticket.first_hour, ticket.last_fired_hour))  # fmt: skip
        xs = fired.get_offsets()[:, 0]
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
    (fired,) = plot_ticket(result, ticket, labels, zone).get_axes()[0].collections
    last = mdates.date2num(datetime.fromtimestamp(ticket.last_fired_hour / 1000, UTC))
    assert fired.get_offsets()[:, 0].max() <= last + 1e-6
    written = plot_tickets(result, labels, tmp_path, zone)
    assert len(written) == len(result.tickets) and all(p.stat().st_size > 10_000 for p in written)
