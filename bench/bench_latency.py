"""Benchmark: latency from the close of an hour to its tickets committed and their
notifications handed to the outbox, over many closes (embedded runner, default config).

An hour closes when the watermark passes its end plus the allowed lateness; the feed call
that moves the watermark then runs series, detectors and the alert service (ticket rows
and outbox rows commit in one transaction) before it returns. The latency of a close is
that call's wall time, measured per judged hour. A webhook channel is configured so that
outbox rows are written; delivery itself (network) is not part of this latency.

    .venv/bin/python bench/bench_latency.py [--regions 100] [--weeks 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.config import parse_config  # noqa: E402
from monitor.embedded import build  # noqa: E402
from monitor.simulator import SimConfig, generate  # noqa: E402

CHANNEL = """
notifications:
  channels:
    oncall: {type: webhook, url: "http://127.0.0.1:9/never-called"}
  routes:
    - channels: [oncall]
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", type=int, default=100)
    parser.add_argument("--weeks", type=int, default=5)
    args = parser.parse_args()
    text = (ROOT / "monitor" / "default_config.yaml").read_text() + CHANNEL
    config = parse_config(text, "default_config.yaml + webhook")
    tmp = Path(tempfile.mkdtemp(prefix="yujing-bench-latency-"))
    run = build(config, f"sqlite:///{tmp / 't.db'}")
    run.pipeline.alerts.dispatcher = None  # hand over to the outbox; do not deliver here
    closes: list[float] = []
    run.pipeline.on_timing = lambda stage, s: closes.append(s) if stage == "apply" else None
    _world, lines = generate(SimConfig(regions=args.regions, weeks=args.weeks))
    started = time.perf_counter()
    for n, line in enumerate(lines, start=1):
        run.pipeline.feed(line, source="sim", offset=n)
    run.pipeline.finish()
    wall = time.perf_counter() - started
    ms = np.array(closes) * 1000
    tickets = len(run.tickets.all())
    p50, p99, worst = (float(np.percentile(ms, 50)), float(np.percentile(ms, 99)),
                       float(ms.max()))
    print(f"{args.regions} regions x {args.weeks} weeks: {len(ms)} hour closes, {tickets} "
          f"tickets, replay {wall:.1f} s")
    print(f"{'closes':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8}")
    print(f"{len(ms):>8} {p50:>8.2f} {p99:>8.2f} {worst:>8.2f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latency.json").write_text(json.dumps({
        "regions": args.regions, "weeks": args.weeks, "closes": len(ms), "tickets": tickets,
        "p50_ms": p50, "p99_ms": p99, "max_ms": worst, "target_p99_ms": 2000}, indent=2))


if __name__ == "__main__":
    main()
