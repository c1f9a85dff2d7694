"""The monthly review as one self-contained HTML page: charts inline (SVG), no server.

Every number comes from ``alerts.tickets.review.monthly_review``; this module only lays
it out for the review meeting: the clocks first (the service policy's promise), then
where problems recur (the draft of the improvement list), then how good the alerts were.
"""

from __future__ import annotations

import io
import math
from datetime import UTC, tzinfo
from html import escape
from typing import Any

from alerts.sla import MINUTE_MS, late_text
from alerts.zones import local_iso
from detectors.numbers import number
from detectors.timeaxis import from_iso

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:64rem;
padding:0 1rem;color:#1d1d1f}h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;
border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.5rem 0}
td,th{border-bottom:1px solid #e5e5e5;padding:.25rem .6rem;text-align:left}
td.n{text-align:right}.chart{margin:.5rem 0}.bad{color:#b00020;font-weight:600}
.note{color:#555}"""


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:.0%}"


def _num(value: float | None, unit: str = "") -> str:
    return "—" if value is None else f"{value:,.1f}{unit}"


def _bar_chart(
    title: str, labels: list[str], values: list[float], unit: str = "", top: float | None = None
) -> str:
    """A horizontal bar chart as inline SVG (matplotlib, no fonts or files to fetch);
    ``top`` fixes the scale (100 for percentages), counts get whole-number ticks."""
    if not labels:
        return '<p class="note">No tickets.</p>'
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    fig = Figure(figsize=(7.5, 0.45 * max(len(labels), 2) + 0.9))
    ax = fig.subplots()
    ax.barh(labels[::-1], values[::-1], color="#4c78a8")
    for y, v in enumerate(values[::-1]):
        ax.text(v, y, f" {number(v)}{unit}", va="center", fontsize=8)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_xlim(0, top if top is not None else max([*values, 1.0]) * 1.15)
    if top is None:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none"}):  # labels as text: searchable, readable
        fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return f'<div class="chart" data-chart="{escape(title)}">{svg[svg.index("<svg") :]}</div>'


def _line_chart(title: str, labels: list[str], lines: dict[str, list[int | None]]) -> str:
    """Weekly counts, a line per name, as inline SVG like ``_bar_chart``; a week without
    a count (None) is a gap in its line."""
    from matplotlib import rc_context
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    if not any(any(v) for v in lines.values()):
        return '<p class="note">No complaints recorded.</p>'
    fig = Figure(figsize=(7.5, 3.2))
    ax = fig.subplots()
    for name, values in lines.items():
        ax.plot(labels, [math.nan if v is None else v for v in values], marker="o", label=name)
    ax.set_title(title, fontsize=10, loc="left")
    ax.set_ylim(0, max([v or 0 for vs in lines.values() for v in vs] + [1]) * 1.15)
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.tick_params(labelsize=8)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, frameon=False, loc="upper left", bbox_to_anchor=(1, 1))
    fig.tight_layout()
    buf = io.StringIO()
    with rc_context({"svg.fonttype": "none"}):
        fig.savefig(buf, format="svg")
    svg = buf.getvalue()
    return f'<div class="chart" data-chart="{escape(title)}">{svg[svg.index("<svg") :]}</div>'


def _change(value: float | None) -> str:
    """A week's change, whole percent; a change that rounds to nothing is "0%" (it read
    "-0%", a fall that is not there)."""
    if value is None:
        return "—"
    shown = f"{value:+.0%}"
    return "0%" if shown in ("+0%", "-0%") else shown


def _table(head: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    if not rows:
        return '<p class="note">None.</p>'
    numeric = numeric or set()
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{escape(c)}</td>' if i in numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><tr>{th}</tr>{body}</table>"


CLOCK_NAMES = {
    "acknowledge": "respond (15 min)",
    "feedback": "first feedback (24 h)",
    "resolve": "closed loop (72 h)",
}


SHOWN = 15  # rows of a volume table; the JSON has them all


def _complaints(volume: dict[str, Any], zone: tzinfo) -> list[str]:
    """The complaint trend beside the alerts: weekly counts per category and per region,
    each week's change from the week before."""
    weeks = [local_iso(from_iso(w["start"]), zone)[5:10] for w in volume["weeks"]]
    head = ["month", *(f"week of {w}" for w in weeks)]

    def rows(key: str, extra: tuple[str, ...] = ()) -> list[list[str]]:
        return [
            [
                r[key],
                *(f"{r[e]:,}" for e in extra),
                f"{r['month']:,}",  # grouped, as the month's total above the tables
                *(
                    "—" if n is None else f"{n:,} ({_change(c)})"
                    for n, c in zip(r["weeks"], r["changes"], strict=True)
                ),
            ]
            for r in volume[f"by_{key}"][:SHOWN]
        ]

    by_category, by_region = volume["by_category"], volume["by_region"]
    numeric = set(range(1, len(head) + 2))
    out = [
        "<h2>Complaint volume</h2>",
        f'<p class="note">{volume["month"]:,} complaints in the month. Weeks run Monday '
        "to Monday and are counted whole (the first and last reach outside the month); "
        "each shows its change from the week before; — marks a week without any complaint "
        "recorded (outside the monitor's history).</p>",
        _line_chart(
            "Complaints per week and category",
            weeks,
            {r["category"]: r["weeks"] for r in by_category[:6]},
        ),
        "<h3>Per category</h3>",
        _table(["category", *head], rows("category"), numeric),
        f"<h3>Per region (the {min(len(by_region), SHOWN)} with most complaints"
        f" of {len(by_region)})</h3>",
        _table(["region", "tickets", *head], rows("region", ("tickets",)), numeric),
    ]
    return out


def render(review: dict[str, Any], title: str, zone: tzinfo = UTC) -> str:
    """The page; times in the operator's ``zone``."""
    sla, quality, counts = review["sla"], review["quality"], review["counts"]

    def when(iso: str | None) -> str:
        return "—" if iso is None else local_iso(from_iso(iso), zone).replace("T", " ")

    parts = [
        f"<h1>{escape(title)}</h1>",
        f'<p class="note">Tickets first fired from {escape(when(review["start"]))} to '
        f"{escape(when(review['end']))} ({review['tickets']}); clocks judged at "
        f"{escape(when(review['judged_at']))}.</p>",
        "<h2>SLA compliance</h2>",
    ]
    clocks = sla["by_clock"]
    parts.append(
        _bar_chart(
            "Compliance per clock (%)",
            [CLOCK_NAMES[c] for c in clocks] if review["tickets"] else [],
            [round(100 * (v["compliance"] or 0), 1) for v in clocks.values()],
            "%",
            top=100,
        )
    )
    parts.append(
        _table(
            ["clock", "met", "breached", "running", "compliance"],
            [
                [
                    CLOCK_NAMES[c],
                    str(v["met"]),
                    str(v["breached"]),
                    str(v["running"]),
                    _pct(v["compliance"]),
                ]
                for c, v in clocks.items()
            ],
            {1, 2, 3, 4},
        )
    )
    parts.append(
        _table(
            ["department", *CLOCK_NAMES.values()],
            [
                [dept, *(_pct(by[c]["compliance"]) for c in CLOCK_NAMES)]
                for dept, by in sla["by_department"].items()
            ],
            {1, 2, 3},
        )
    )
    parts.append(f"<h3>Breaches ({len(sla['breaches'])})</h3>")
    parts.append(
        _table(
            ["ticket", "region", "department", "owner", "clock", "due", "late"],
            [
                [
                    f"#{b['ticket']}",
                    b["region"],
                    b["department"],
                    b["owner"] or "nobody",
                    CLOCK_NAMES[b["clock"]],
                    when(b["due"]),
                    late_text(round(b["late_minutes"] * MINUTE_MS)),
                ]
                for b in sla["breaches"]
            ],
            {6},
        )
    )
    parts.append("<h2>Where problems recur (draft of the improvement list)</h2>")
    parts.append("<h3>Regions with more than one ticket</h3>")
    parts.append(
        _table(
            ["region", "tickets"],
            [[r["region"], str(r["tickets"])] for r in review["recurring"]["regions"]],
            {1},
        )
    )
    parts.append("<h3>Confirmed causes by region</h3>")
    parts.append(
        _table(
            ["region", "confirmed cause", "tickets"],
            [
                [r["region"], r["cause"], str(r["tickets"])]
                for r in review["recurring"]["region_causes"]
            ],
            {2},
        )
    )
    by_dept = counts["department"]
    parts.append(
        _bar_chart("Tickets per department", list(by_dept), [float(n) for n in by_dept.values()])
    )
    for key in ("region", "metric", "detector"):
        items = list(counts[key].items())[:15]
        parts.append(f"<h3>Tickets per {key}</h3>")
        parts.append(_table([key, "tickets"], [[k, str(n)] for k, n in items], {1}))
    parts += _complaints(review["complaints"], zone)
    parts.append("<h2>Alert quality (from the outcomes people recorded)</h2>")
    specs = quality["by_spec"]
    parts.append(
        _bar_chart(
            "Tickets per detector spec",
            list(specs),
            [float(s["tickets"]) for s in specs.values()],
        )
    )
    parts.append(
        _table(
            ["spec", "tickets", "confirmed", "false alarms", "precision"],
            [
                [
                    spec,
                    str(s["tickets"]),
                    str(s["confirmed"]),
                    str(s["false_alarms"]),
                    _pct(s["precision"]),
                ]
                for spec, s in specs.items()
            ],
            {1, 2, 3, 4},
        )
    )
    ack, res = quality["time_to_acknowledge_minutes"], quality["time_to_resolve_hours"]
    outcomes = ", ".join(f"{k} {v}" for k, v in quality["outcomes"].items()) or "none"
    parts.append(
        _table(
            ["figure", "value"],
            [
                ["outcomes", outcomes],
                [
                    "false alarms per region-week",
                    f"{quality['false_alarms_per_region_week']:.3f} ({quality['regions']} regions)",
                ],
                [
                    "time to acknowledge, median / p90",
                    f"{_num(ack['median'], ' min')} / {_num(ack['p90'], ' min')}",
                ],
                [
                    "time to resolve, median / p90",
                    f"{_num(res['median'], ' h')} / {_num(res['p90'], ' h')}",
                ],
            ],
        )
    )
    body = "\n".join(parts)
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>{body}</body></html>\n"
    )
