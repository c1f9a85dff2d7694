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
from detectors.timeaxis import DAY_MS, HOUR_MS
from monitor.config.model import MonitorConfig
from monitor.lab.backtest import BacktestResult
from monitor.lab.scorecard import concerns
from monitor.lab.simulate_events import Label
from monitor.windows.aggregation import RATE_PER

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.dates import DateFormatter
    from matplotlib.figure import Figure

CONTEXT_DAYS = 10  # shown before the ticket opened
AFTER_DAYS = 2  # shown after its opening episode's last fired hour
# a ticket's findings by more than one detector: which fired where (a rise up, a drop
# down; the others, which may fire either way, a dot)
FIRED_MARKERS = {"burst": "^", "drop": "v"}
# a ticket whose episodes (opened, then re-fired) span more than this gets an overview of
# them beneath its opening episode: a staffed NOC's ticket opened in July and re-fired at
# New Year squeezed the hours that opened it into a few pixels of a six-month plot
WHOLE_SPAN_DAYS = 28
PLOT_FILES = "ticket-[0-9][0-9][0-9][0-9]*__*.png"  # what ``plot_tickets`` writes


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
    from matplotlib.figure import Figure

    zone = config.zone
    start = ticket.first_hour - CONTEXT_DAYS * DAY_MS
    whole_end = max(ticket.last_fired_hour, ticket.recovered_at or 0) + AFTER_DAYS * DAY_MS
    # the ticket's own findings: its series and kind (a capacity shortage's or a fault's)
    # while it fired; a capacity ticket's plot drew a later site fault's on its series
    own = series_of(ticket.region, ticket.metric, ticket.detector)
    every = sorted(
        (sf.finding for sf in result.findings
         if series_of(sf.finding.region, sf.finding.metric, sf.finding.detector) == own
         and ticket.first_hour <= sf.finding.hour <= ticket.last_fired_hour),
        key=lambda f: f.hour,
    )  # fmt: skip
    episodes = sorted(d.hour for d in result.detections if d.ticket_id == ticket.id)
    end = _view_end(start, ticket, every, episodes, whole_end)
    findings = [f for f in every if f.hour <= end]
    hours, values = _series(result, ticket.region, ticket.metric, start, end)
    if hours.size == 0:
        return None
    detector = config.detector_for(ticket.spec_id, ticket.region) if ticket.spec_id else None
    second = next(iter(detector.context_metrics()), None) if detector is not None else None
    kpi_hours, kpi_values = (
        _series(result, ticket.region, second, start, end) if second else (np.zeros(0), None)
    )
    rows = 2 if kpi_values is not None and kpi_hours.size else 1
    overview = end < whole_end
    fig = Figure(figsize=(12, 4 + 2.2 * (rows - 1) + 1.9 * overview))
    grid = fig.add_gridspec(rows + overview, 1, height_ratios=[2] * rows + [1] * overview)
    ax = fig.add_subplot(grid[0])
    axes = [ax] + [fig.add_subplot(grid[i], sharex=ax) for i in range(1, rows)]
    ax.plot(_times(hours, zone), values, lw=0.9, color="#1f77b4", label=ticket.metric)
    if findings:
        # a finding over many hours (a week's sum, a day's) is drawn per hour of its
        # window, on the scale of the hourly series it judged
        per_hour = np.array(
            [HOUR_MS / max(f.window_end - f.window_start, HOUR_MS) for f in findings]
        )
        when = np.array(_times(np.array([f.hour for f in findings]), zone), dtype=object)
        ax.plot(
            when, np.array([f.baseline for f in findings]) * per_hour, ls="none", marker="_",
            ms=10, mew=2, color="#2ca02c", label="normal the detector expected (per hour)",
        )  # fmt: skip
        observed = np.array([f.observed for f in findings]) * per_hour
        by = [f.detector for f in findings]
        kinds = list(dict.fromkeys(by))
        # a ticket is its series': a drop may open it and bursts re-fire it, each named
        for kind in kinds:
            mine = np.array([d == kind for d in by])
            named = f" by {kind}" if len(kinds) > 1 else ""
            ax.scatter(
                when[mine], observed[mine], s=18, color="#d62728", zorder=3,
                marker=FIRED_MARKERS.get(kind, "o") if len(kinds) > 1 else "o",
                label=f"fired{named}: observed (per hour of its window)",
            )  # fmt: skip
        limits = {f.limit for f in findings if f.limit is not None}
        for limit in sorted(limits):
            ax.axhline(limit, color="#d62728", ls="--", lw=1, label=f"limit {number(limit)}")
    incidents = _incidents(ticket, labels)
    _draw_incidents(ax, [lab for lab in incidents if lab.end >= start and lab.start <= end], zone)
    # when the ticket opened, not its first fired hour: that hour is judged once it
    # closed, so a replay opens the ticket an hour after its start (plot and title said
    # 01:00 of a ticket the run reported opened at 02:00)
    opened = _times(np.array([ticket.opened_at]), zone)[0]
    for axis in axes:
        axis.axvline(opened, color="#9467bd", lw=1.2, label="ticket opened" if axis is ax else None)
        if ticket.recovered_at is not None and ticket.recovered_at <= end:
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
    # from the data's first hour when it began after the context's (incident spans and
    # later episodes lie beyond the view)
    view = _times(np.array([max(start, int(hours[0])), end]), zone)
    ax.set_xlim(view[0], view[1])
    offset = opened.strftime("%z")
    local = f"local time (UTC{offset[:3]}:{offset[3:]})"
    for axis in axes[:-1]:
        axis.tick_params(labelbottom=False)
    axes[-1].xaxis.set_major_formatter(_dates(zone, "%m-%d %H:%M"))
    axes[-1].set_xlabel(local)
    if overview:
        whole = fig.add_subplot(grid[rows])
        _draw_overview(whole, result, ticket, episodes, (start, end, whole_end), zone)
        _draw_incidents(whole, incidents, zone)
        whole.legend(loc="upper left", fontsize=7)
        whole.set_xlabel(local)
    fig.suptitle(
        f"#{ticket.id} {ticket.region} · {ticket.metric} ({ticket.detector}, "
        f"{ticket.severity}) opened {opened:%Y-%m-%d %H:%M}",
        fontsize=11,
    )
    # a ticket's explanation is its latest finding's: months after the hours shown above
    said = findings[0].explanation if overview and findings else ticket.explanation
    ax.set_title("\n".join(textwrap.wrap(said, 150)[:2]), fontsize=8)
    for axis in fig.get_axes():
        for text in axis.get_xticklabels():
            text.set_rotation(30)
            text.set_horizontalalignment("right")
    fig.tight_layout()
    return fig


def _view_end(
    start: int, ticket: TicketView, findings: list[Finding], episodes: list[int], end: int
) -> int:
    """Where the detailed view from ``start`` ends: the whole ticket when it is short;
    otherwise a few days after its opening episode (the findings before it first
    re-fired), since that is what a plot must explain."""
    if end - start <= WHOLE_SPAN_DAYS * DAY_MS:
        return end
    refired = episodes[1] if len(episodes) > 1 else None
    opening = [f.hour for f in findings if refired is None or f.hour < refired]
    return min(end, max(opening, default=ticket.first_hour) + AFTER_DAYS * DAY_MS)


def _draw_overview(
    ax: Axes,
    result: BacktestResult,
    ticket: TicketView,
    episodes: list[int],
    span: tuple[int, int, int],
    zone: tzinfo,
) -> None:
    """The whole ticket on one strip: its series, the part shown above, and each episode
    (opened, then every re-fire), so a later episode is seen without hiding the first."""
    start, end, whole_end = span
    hours, values = _series(result, ticket.region, ticket.metric, start, whole_end)
    ax.plot(_times(hours, zone), values, lw=0.5, color="#1f77b4")
    shown = _times(np.array([start, end]), zone)
    ax.axvspan(shown[0], shown[1], color="#9467bd", alpha=0.12, label="shown above")
    refires = episodes[1:]
    for i, hour in enumerate(refires):
        ax.axvline(
            _times(np.array([hour]), zone)[0], color="#ff7f0e", lw=1.2, ls="--",
            label=f"re-fired ({len(refires)}x)" if i == 0 else None,
        )  # fmt: skip
    if ticket.recovered_at is not None:
        ax.axvline(
            _times(np.array([ticket.recovered_at]), zone)[0], color="#9467bd", lw=1.2, ls=":",
            label="recovered",
        )  # fmt: skip
    whole = _times(np.array([max(start, int(hours[0])), whole_end]), zone)
    ax.set_xlim(whole[0], whole[1])
    ax.set_title("the whole ticket", fontsize=8, loc="left")
    ax.xaxis.set_major_formatter(_dates(zone, "%Y-%m-%d"))


def _incidents(ticket: TicketView, labels: list[Label]) -> list[Label]:
    """The labelled incidents the ticket is scored against: the scorecard's rule (a NAB
    window labels a whole region, and the plot left it out)."""
    return [lab for lab in labels if concerns(lab, ticket.region, ticket.metric)]


def _draw_incidents(ax: Axes, incidents: list[Label], zone: tzinfo) -> None:
    """Each incident shaded; the legend names each kind once (NAB's five windows of a
    series read "incident (anomaly)" five times)."""
    named: set[str] = set()
    for label in incidents:
        span = _times(np.array([label.start, label.end]), zone)
        name = f"incident ({label.kind})"
        ax.axvspan(
            span[0], span[1], color="#ffbf00", alpha=0.25, label=None if name in named else name
        )
        named.add(name)


def _dates(zone: tzinfo, form: str) -> DateFormatter:
    from matplotlib.dates import DateFormatter

    return DateFormatter(form, tz=zone)


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
    """One PNG per ticket of the backtest run with ``config``. The plots an earlier run
    wrote there go first: beside this run's they passed for tickets it opened."""
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob(PLOT_FILES):
        old.unlink()
    written = []
    for ticket in result.tickets:
        fig = plot_ticket(result, ticket, labels, config)
        if fig is None:
            continue
        safe = f"{ticket.region}__{ticket.metric}".replace("/", "_")
        path = out_dir / f"ticket-{ticket.id:04d}__{safe}.png"  # (``PLOT_FILES``)
        fig.savefig(path, dpi=90)
        written.append(path)
    return written
