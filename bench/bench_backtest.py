"""Benchmark: a year of hourly data for 1,000 regions through the embedded runner.

The hourly aggregates of the simulator's world (same rate model, incidents of each kind
spread over the year) go through the embedded runner's hourly replay: series store, every
detector of the default config at every hour (a week of hours per detector call), the
alert policy hour by hour, tickets in SQLite; then the scorecard against the labels.

    .venv/bin/python bench/bench_backtest.py [--regions 1000] [--weeks 52]

Prints a table and writes JSON to bench/results/backtest.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config.load import load_config  # noqa: E402
from monitor.lab.backtest import run_backtest_series  # noqa: E402
from monitor.lab.simulate_events import SimConfig  # noqa: E402
from monitor.lab.simulate_hourly import simulate_hourly  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", type=int, default=1000)
    parser.add_argument("--weeks", type=int, default=52)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    config = load_config()
    started = time.perf_counter()
    series, labels = simulate_hourly(
        SimConfig(seed=args.seed, regions=args.regions, weeks=args.weeks), config.metrics_needed()
    )
    simulate_s = time.perf_counter() - started
    started = time.perf_counter()
    result = run_backtest_series(config, series, labels)
    wall_s = time.perf_counter() - started
    region_hours = len(series.regions) * series.hours
    row = {
        "bench": "backtest_hourly",
        "regions": len(series.regions),
        "hours": series.hours,
        "region_hours": region_hours,
        "metrics": len(series.values),
        "simulate_s": simulate_s,
        "replay_s": result.seconds,
        "wall_s": wall_s,
        "region_hours_per_s": region_hours / result.seconds,
        "target_s": 60.0,
        "tickets": len(result.tickets),
        "incidents": len(labels),
        "recall": result.recall(),
        "precision": result.precision(),
        "false_alarms": len(result.scorecard.false_alarms),
        "false_alarms_per_region_week": result.false_alarms_per_region_week,
        "mean_delay_hours": result.mean_delay(),
        "max_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    print(
        f"{'regions':>8} {'hours':>6} {'replay s':>9} {'wall s':>7} {'target':>7} "
        f"{'tickets':>8} {'recall':>7} {'false/region-wk':>16} {'RSS MB':>7}"
    )
    print(
        f"{row['regions']:>8} {row['hours']:>6} {row['replay_s']:>9.1f} {wall_s:>7.1f} "
        f"{'< 60 s':>7} {row['tickets']:>8} {row['recall'] or 0:>7.3f} "
        f"{row['false_alarms_per_region_week']:>16.5f} {row['max_rss_mb']:>7.0f}"
    )
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "backtest.json").write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
