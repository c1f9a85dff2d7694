"""Benchmark: one detection tick of the default config over many series with 8 weeks of
hourly history. Prints a table and writes JSON to bench/results/.

    .venv/bin/python bench/bench_detection_tick.py [--regions 10000]
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import time
from pathlib import Path

import numpy as np

from detectors.timeaxis import HOUR_MS
from monitor.config.load import load_config
from monitor.detection.store import SeriesStore
from monitor.detection.tick import tick


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--series",
        type=int,
        default=10_000,
        help="series = regions x metrics of the default config",
    )
    parser.add_argument("--weeks", type=int, default=8)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    config = load_config()
    metrics = config.metrics_needed()
    args.regions = -(-args.series // len(metrics))
    hours = args.weeks * 168
    rng = np.random.default_rng(1)
    store = SeriesStore(metrics, history_hours=hours)
    end = 500_000 * HOUR_MS
    store.origin = end - (hours - 1) * HOUR_MS
    regions = [f"r{i:05d}" for i in range(args.regions)]
    base = {m: rng.uniform(0.5, 8.0, size=(args.regions, 1)) for m in metrics}
    for week in range(args.weeks):  # through the store's own API (a replay's blocks)
        values = {m: rng.poisson(base[m], size=(args.regions, 168)).astype(float) for m in metrics}
        store.write_block(regions, store.origin + week * 168 * HOUR_MS, values)
    series = args.regions * len(metrics)
    timings = []
    for _ in range(args.repeat):
        started = time.perf_counter()
        result = tick(config, store, end)
        timings.append(time.perf_counter() - started)
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = {
        "bench": "detection_tick",
        "regions": args.regions,
        "metrics": len(metrics),
        "series": series,
        "history_hours": hours,
        "best_s": min(timings),
        "median_s": float(np.median(timings)),
        "findings": len(result.findings),
        "max_rss_mb": rss_mb,
        "target_s": 1.0,
        "target_rss_mb": 300,
        "python": platform.python_version(),
        "numpy": np.__version__,
    }
    print(f"{'series':>10} {'history':>8} {'best s':>8} {'median s':>9} {'RSS MB':>8}")
    print(f"{series:>10} {hours:>8} {row['best_s']:>8.3f} {row['median_s']:>9.3f} {rss_mb:>8.0f}")
    out = Path(__file__).parent / "results" / "detection_tick.json"
    out.write_text(json.dumps(row, indent=2))


if __name__ == "__main__":
    main()
