"""Backtest plots: one PNG per alerted series, the metric with its findings and incidents."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from detectors.timeaxis import HOUR_MS
from monitor.lab.backtest import BacktestResult
from monitor.lab.simulate_events import Label


def plot_alerted_series(result: BacktestResult, labels: list[Label], out_dir: Path) -> list[Path]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir.mkdir(parents=True, exist_ok=True)
    series = sorted({(sf.finding.region, sf.finding.metric) for sf in result.findings})
    written = []
    for region, metric in series:
        points = result.aggregates.get((region, metric))
        if not points:
            continue
        points.sort()
        hours = np.array([h for h, _ in points]) / HOUR_MS
        values = np.array([v for _, v in points])
        fig, ax = plt.subplots(figsize=(12, 4))
        ax.plot(hours, values, lw=0.8, color="#1f77b4", label=metric)
        if len(values) >= 24:  # a daily moving median as the eye's baseline
            band = np.array(
                [np.nanmedian(values[max(0, i - 167) : i + 1]) for i in range(len(values))]
            )
            ax.plot(hours, band, lw=1.2, color="#7f7f7f", label="7-day rolling median")
        for label in labels:
            if label.region == region and (label.metric == metric or metric in label.related):
                ax.axvspan(
                    label.start / HOUR_MS,
                    label.end / HOUR_MS,
                    color="#ffbf00",
                    alpha=0.25,
                    label=f"incident {label.kind}",
                )
        fired = sorted(
            {
                sf.finding.hour / HOUR_MS
                for sf in result.findings
                if sf.finding.region == region and sf.finding.metric == metric
            }
        )
        if fired:
            ax.scatter(
                fired,
                np.interp(fired, hours, np.nan_to_num(values)),
                s=8,
                color="#d62728",
                zorder=3,
                label="findings",
            )
        ax.set_title(f"{region} · {metric}")
        ax.set_xlabel("hours since epoch")
        ax.legend(loc="upper left", fontsize=8)
        fig.tight_layout()
        path = out_dir / f"{region}__{metric}.png"
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written
