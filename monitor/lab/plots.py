"""Backtest plots: one PNG per ticket, showing what its detector judged.

A plot answers "why did this fire?": the series in the operator's zone, the normal level
the detector compared with (each finding's baseline) and its fixed limit if it has one,
the hours it fired, when the ticket opened and recovered, the labelled incident, and for
a two-signal detector (the site-fault precursor, a capacity shortage) the other signal it
read beneath, as the config that judged the ticket names it.
"""

from __future__ import annotations

import textwrap
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from alerts.policy.incidents import series_of
from alerts.taxonomy import Taxonomy, kpi_counts_arrivals, kpi_of
from alerts.tickets.view import TicketView
from detectors.base import Finding
from detectors.numbers import number
from monitor.config.model import MonitorConfig
from monitor.lab.backtest import BacktestResult
from monitor.lab.simulate_events import Label
from monitor.windows.aggregation import RATE_PER

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

CONTEXT_DAYS = 10  # shown before the ticket opened


def _times(hours_ms: np.ndarray, zone: tzinfo) -> list[datetime]:
    return [datetime.fromtimestamp(h / 1000, tz=UTC).astimezone(zone) for h in hours_ms]


def _series(result: BacktestResult, region: str, metric: str, start: int, end: int) -> tuple:
    points = sorted(p for p in result.aggregates.get((region, metric), []) if start <= p[0] <= end)
    hours = np.array([h for h, _ in points], dtype=np.int64)
    values = np.array([v for _, v in points], dtype=float)
    return hours, values


def axis_label(metric: str, taxonomy: Taxonomy) -> str:
    """What a plot's vertical axis counts, with its unit: the metric's family alone read
    "kpi" beside a packet loss in percent."""
    family = metric.partition(".")[0]
    if family == "complaints":
        return "complaints per hour"
    if family == "complaint_rate":
        return f"complaints per {RATE_PER:,} subscribers"
    kpi = kpi_of(metric)
    if kpi is None:
        return metric
    shown = f"{kpi} {metric.rpartition('.')[2]}"
    info = taxonomy.kpi(kpi)
    if info is None or not info.unit or kpi_counts_arrivals(metric):
        return shown
    return f"{shown} ({info.unit})"


def plot_ticket(
    result: BacktestResult, ticket: TicketView, labels: list[Label], config: MonitorConfig
) -> Figure | None:
    """The figure of one ticket (None when the backtest kept no points of its series),
    as ``config`` judged it: its zone, units, and the detector that judged the region."""
    import matplotlib.dates as mdates
    from matplotlib.figure import Figure

    zone = config.zone
    hour_ms = 3_600_000
    start = ticket.first_hour - CONTEXT_DAYS * 24 * hour_ms
    end = max(ticket.last_fired_hour, ticket.recovered_at or 0) + 2 * 24 * hour_ms
    hours, values = _series(result, ticket.region, ticket.metric, start, end)
    if hours.size == 0:
        return None
    detector = config.detector_for(ticket.spec_id, ticket.region) if ticket.spec_id else None
    second = next(iter(detector.context_metrics()), None) if detector is not None else None
    kpi_hours, kpi_values = (
        _series(result, ticket.region, second, start, end) if second else (np.zeros(0), None)
    )
    rows = 2 if kpi_values is not None and kpi_hours.size else 1
    fig = Figure(figsize=(12, 4 + 2.2 * (rows - 1)))
    axes = fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]
    ax = axes[0]
    ax.plot(_times(hours, zone), values, lw=0.9, color="#1f77b4", label=ticket.metric)
    # the ticket's own findings: its series and kind (a capacity shortage's or a fault's)
    # while it fired; a capacity ticket's plot drew a later site fault's on its series
    own = series_of(ticket.region, ticket.metric, ticket.detector)
    findings = sorted(
        (sf.finding for sf in result.findings
         if series_of(sf.finding.region, sf.finding.metric, sf.finding.detector) == own
         and ticket.first_hour <= sf.finding.hour <= ticket.last_fired_hour),
        key=lambda f: f.hour,
    )  # fmt: skip
    if findings:
        # a finding over many hours (a week's sum, a day's) is drawn per hour of its
        # window, on the scale of the hourly series it judged
        per_hour = np.array(
            [hour_ms / max(f.window_end - f.window_start, hour_ms) for f in findings]
        )
        when = _times(np.array([f.hour for f in findings]), zone)
        ax.plot(
            when, np.array([f.baseline for f in findings]) * per_hour, ls="none", marker="_",
            ms=10, mew=2, color="#2ca02c", label="normal the detector expected (per hour)",
        )  # fmt: skip
        ax.scatter(
            when, np.array([f.observed for f in findings]) * per_hour, s=14, color="#d62728",
            zorder=3, label="fired: observed (per hour of its window)",
        )  # fmt: skip
        limits = {f.limit for f in findings if f.limit is not None}
        for limit in sorted(limits):
            ax.axhline(limit, color="#d62728", ls="--", lw=1, label=f"limit {number(limit)}")
    for label in labels:
        if label.region == ticket.region and (
            label.metric == ticket.metric or ticket.metric in label.related
        ):
            span = _times(np.array([label.start, label.end]), zone)
            ax.axvspan(
                span[0], span[1], color="#ffbf00", alpha=0.25, label=f"incident ({label.kind})"
            )
    # when the ticket opened, not its first fired hour: that hour is judged once it
    # closed, so a replay opens the ticket an hour after its start (plot and title said
    # 01:00 of a ticket the run reported opened at 02:00)
    opened = _times(np.array([ticket.opened_at]), zone)[0]
    for axis in axes:
        axis.axvline(opened, color="#9467bd", lw=1.2, label="ticket opened" if axis is ax else None)
        if ticket.recovered_at is not None:
            recovered = _times(np.array([ticket.recovered_at]), zone)[0]
            axis.axvline(
                recovered,
                color="#9467bd",
                lw=1.2,
                ls=":",
                label="recovered" if axis is ax else None,
            )
    ax.set_ylabel(axis_label(ticket.metric, config.vocabulary))
    ax.legend(loc="upper left", fontsize=7)
    if rows == 2 and kpi_values is not None and second:
        axes[1].plot(_times(kpi_hours, zone), kpi_values, lw=0.9, color="#8c564b", label=second)
        _draw_signal(axes[1], [f for f in findings if f.signal and f.signal.metric == second], zone)
        axes[1].set_ylabel(axis_label(second, config.vocabulary))
        axes[1].legend(loc="upper left", fontsize=7)
    axes[-1].xaxis.set_major_formatter(mdates.DateFormatter("%m-%d %H:%M", tz=zone))
    offset = opened.strftime("%z")
    axes[-1].set_xlabel(f"local time (UTC{offset[:3]}:{offset[3:]})")
    fig.suptitle(
        f"#{ticket.id} {ticket.region} · {ticket.metric} ({ticket.detector}, "
        f"{ticket.severity}) opened {opened:%Y-%m-%d %H:%M}",
        fontsize=11,
    )
    ax.set_title("\n".join(textwrap.wrap(ticket.explanation, 150)[:2]), fontsize=8)
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig


def _draw_signal(ax: Axes, findings: list[Finding], zone: tzinfo) -> None:
    """What a two-signal detector read of the KPI at each finding (its window's mean, a
    peak's top) against the level it compared it with or the line it crossed: the KPI
    panel drew the series alone, and the reason the ticket fired was left to the eye."""
    signals = [(f.hour, f.signal) for f in findings if f.signal is not None]
    if not signals:
        return
    usual = [(hour, s.baseline) for hour, s in signals if s.baseline is not None]
    if usual:
        ax.plot(
            _times(np.array([h for h, _ in usual]), zone), [b for _, b in usual], ls="none",
            marker="_", ms=10, mew=2, color="#2ca02c", label="usual level the detector compared",
        )  # fmt: skip
    ax.scatter(
        _times(np.array([h for h, _ in signals]), zone), [s.observed for _, s in signals],
        s=14, color="#d62728", zorder=3, label="fired: what the detector read",
    )  # fmt: skip
    for limit in sorted({s.limit for _, s in signals if s.limit is not None}):
        ax.axhline(limit, color="#d62728", ls="--", lw=1, label=f"limit {number(limit)}")


def plot_tickets(
    result: BacktestResult, labels: list[Label], out_dir: Path, config: MonitorConfig
) -> list[Path]:
    """One PNG per ticket of the backtest run with ``config``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for ticket in result.tickets:
        fig = plot_ticket(result, ticket, labels, config)
        if fig is None:
            continue
        safe = f"{ticket.region}__{ticket.metric}".replace("/", "_")
        path = out_dir / f"ticket-{ticket.id:04d}__{safe}.png"
        fig.savefig(path, dpi=90)
        written.append(path)
    return written
