"""Benchmark: latency from the close of an hour to its tickets committed and their
notifications handed to the outbox, over many closes (default config), in the embedded
runner and in a Faust worker on the local broker.

An hour closes when the watermark passes its end plus the allowed lateness; the feed call
that moves the watermark then runs series, detectors and the alert service (ticket rows
and outbox rows commit in one transaction) before it returns. The latency of a close is
that call's wall time, measured per judged hour. A webhook channel is configured so that
outbox rows are written; delivery itself (network) is not part of this latency.

In the Faust worker the close of an hour is the moment its aggregation batch returned the
hours the watermark passed; the latency runs from there through the hourly topic's sends,
series, detectors and the alert service to the committed ticket and outbox rows. The worker
records it in its ``yujing_processing_seconds{stage="close"}`` histogram; p50 and p99 are
read from that histogram's buckets as Prometheus' ``histogram_quantile`` would (linear
within a bucket), so they are bounded by the bucket edges.

    .venv/bin/python bench/bench_latency.py [--regions 100] [--weeks 5] [--faust-regions 50]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.timeaxis import HOUR_MS, from_iso  # noqa: E402
from monitor.config.load import parse_config  # noqa: E402
from monitor.lab.simulate_events import SimConfig, generate  # noqa: E402
from monitor.runners.embedded import build  # noqa: E402

sys.path.insert(0, str(ROOT / "bench"))
from bench_throughput import broker, free_port, stop  # noqa: E402

CHANNEL = """
notifications:
  channels:
    oncall: {type: webhook, url: "http://127.0.0.1:9/never-called", unsigned: true}
  routes:
    - channels: [oncall]
"""


def scrape(port: int) -> dict[str, float]:
    """The worker's /metrics as {series: value} (empty while it is not up yet)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            text = r.read().decode()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.rpartition(" ")
            out[name] = float(value)
    return out


def histogram_quantile(q: float, buckets: list[tuple[float, float]]) -> float:
    """Prometheus' estimate from cumulative (upper bound, count) buckets."""
    total = buckets[-1][1]
    rank = q * total
    lower, below = 0.0, 0.0
    for upper, count in buckets:
        if count >= rank:
            if upper == float("inf"):
                return lower
            return lower + (upper - lower) * (rank - below) / max(count - below, 1e-12)
        lower, below = upper, count
    return lower


def close_buckets(metrics: dict[str, float]) -> list[tuple[float, float]]:
    return buckets(metrics, "yujing_processing_seconds", 'stage="close"')


def buckets(metrics: dict[str, float], name: str, label: str = "") -> list[tuple[float, float]]:
    """A histogram's cumulative (upper bound, count) buckets from a scrape."""
    prefix = f'{name}_bucket{{le="'
    return sorted(
        (float(series[len(prefix) :].split('"')[0].replace("+Inf", "inf")), value)
        for series, value in metrics.items()
        if series.startswith(prefix) and label in series
    )


def over(histogram: list[tuple[float, float]], bound: float) -> float:
    """Observations above ``bound`` (a bucket's upper bound)."""
    total = histogram[-1][1] if histogram else 0.0
    return total - dict(histogram).get(bound, total)


def faust_latency(regions: int, weeks: int, live_hours: int, config_text: str) -> dict[str, float]:
    """One worker catches up on a simulated world's history, then gets it hour by hour.

    Catch-up closes hundreds of hours per batch, which says nothing about a live close;
    the quantiles are over the live hours only (histogram deltas), one close per batch.
    End to end, per live hour: from the next hour's events acknowledged by the broker (what
    closes the hour) to the worker reporting the hour judged, polled every 20 ms.
    """
    from monitor.events.parsing import parse_event
    from monitor.lab.produce import produce_lines
    from monitor.runners.faust.topics import TopicNames, create_topics

    sim = SimConfig(regions=regions, weeks=weeks, kpi_reports=True)
    _world, lines = generate(sim)
    start = from_iso(sim.start)
    by_hour: dict[int, list[bytes]] = {}
    readings_by_hour: dict[int, int] = {}
    for line in lines:
        event = parse_event(line)
        at = getattr(event, "period_start", None) or getattr(event, "event_time", start)
        hour = (at - start) // HOUR_MS
        by_hour.setdefault(hour, []).append(line)
        readings_by_hour[hour] = readings_by_hour.get(hour, 0) + getattr(event, "readings", 1)
    first_live = sim.hours - live_hours
    catch_up_readings = sum(n for h, n in readings_by_hour.items() if h < first_live)
    tmp = Path(tempfile.mkdtemp(prefix="yujing-bench-latency-faust-"))
    (tmp / "config.yaml").write_text(config_text)
    with broker() as bootstrap:
        prefix = f"l{uuid.uuid4().hex[:6]}"
        names = TopicNames(prefix)
        create_topics(bootstrap, names, 4)
        produce_lines(
            (line for h in sorted(by_hour) if h < first_live for line in by_hour[h]),
            bootstrap,
            names,
        )
        port = free_port()
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": bootstrap,
            "YUJING_TOPIC_PREFIX": prefix,
            "YUJING_APP_ID": prefix,
            "YUJING_PARTITIONS": "4",
            "YUJING_WEB_PORT": str(port),
            "YUJING_DATABASE_URL": f"sqlite:///{tmp / 't.db'}",
            "YUJING_DATA_DIR": str(tmp),
            "YUJING_CONFIG": str(tmp / "config.yaml"),
        }
        with (tmp / "worker.log").open("wb") as log:
            worker = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

        def judged_until(
            end_ms: int, timeout_s: float, every_s: float, readings: int = 0
        ) -> dict[str, float]:
            """Wait until ``readings`` are in the windows and the hour ending at ``end_ms``
            is judged (the status page is cheap to poll; /metrics is read once it is)."""
            deadline = time.monotonic() + timeout_s
            while time.monotonic() < deadline:
                try:
                    with urllib.request.urlopen(
                        f"http://127.0.0.1:{port}/yujing/status", timeout=5
                    ) as r:
                        status = json.loads(r.read())
                except OSError:
                    status = {}
                judged = status.get("last_judged_hour")
                if (
                    judged is not None
                    and judged + HOUR_MS >= end_ms
                    and status.get("readings_accepted", 0) >= readings
                ):
                    return scrape(port)
                if worker.poll() is not None:
                    raise RuntimeError(f"worker exited; see {tmp / 'worker.log'}")
                time.sleep(every_s)  # polling a scrape endpoint, not synchronising a test
            raise RuntimeError(f"worker did not judge the hour; see {tmp / 'worker.log'}")

        try:
            began = time.monotonic()
            # caught up: every reading of the history is in the windows (so every region,
            # not only the fastest partition's, has closed the hours before the live ones)
            before = close_buckets(
                judged_until(start + (first_live - 1) * HOUR_MS, 900, 0.5, catch_up_readings)
            )
            catch_up = time.monotonic() - began
            # the catch-up's last round is observed once its tickets are committed, after
            # the status already shows its hours judged: until the close histogram holds
            # still, a close of the catch-up could be counted as a live one
            for _ in range(60):
                time.sleep(0.5)  # polling a scrape endpoint, not synchronising a test
                settled = close_buckets(scrape(port))
                if settled == before:
                    break
                before = settled
            beats = buckets(scrape(port), "yujing_timer_lateness_seconds")
            end_to_end = []
            for h in range(first_live, sim.hours):
                produce_lines(by_hour.get(h, []), bootstrap, names)
                sent = time.monotonic()
                metrics = judged_until(start + h * HOUR_MS, 60, 0.02)  # hour h-1 is judged
                end_to_end.append(time.monotonic() - sent)
            after = close_buckets(metrics)
        finally:
            stop(worker, "faust worker (latency)")
    live = [(upper, count - dict(before).get(upper, 0.0)) for upper, count in after]
    e2e = np.array(end_to_end) * 1000
    return {
        "regions": regions,
        "weeks": weeks,
        "live_hours": len(e2e),
        "closes": live[-1][1] if live else 0.0,
        "p50_ms": 1000 * histogram_quantile(0.5, live),
        "p99_ms": 1000 * histogram_quantile(0.99, live),
        "end_to_end_p50_ms": float(np.percentile(e2e, 50)),
        "end_to_end_p99_ms": float(np.percentile(e2e, 99)),
        "end_to_end_max_ms": float(e2e.max()),
        "end_to_end_ms": [round(float(x), 1) for x in e2e],
        "tickets": metrics.get("yujing_tickets_opened_total", 0.0),
        "catch_up_s": catch_up,
        # the heartbeat timer (every 0.25 s) from start-up through the catch-up
        "timer_beats": beats[-1][1] if beats else 0.0,
        "timer_late_over_0_5_s": over(beats, 0.5),
        "timer_late_p99_ms": 1000 * histogram_quantile(0.99, beats) if beats else float("nan"),
    }


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--regions", type=int, default=100)
    parser.add_argument("--weeks", type=int, default=5)
    parser.add_argument(
        "--faust-regions", type=int, default=50, help="regions of the Faust run (0: skip it)"
    )
    parser.add_argument(
        "--live-hours",
        type=int,
        default=48,
        help="hours the Faust worker gets one at a time after catching up",
    )
    args = parser.parse_args()
    text = (ROOT / "monitor" / "config" / "default_config.yaml").read_text() + CHANNEL
    config = parse_config(text, "default_config.yaml + webhook")
    tmp = Path(tempfile.mkdtemp(prefix="yujing-bench-latency-"))
    run = build(config, f"sqlite:///{tmp / 't.db'}")
    run.pipeline.alerts.dispatcher = None  # hand over to the outbox; do not deliver here
    closes: list[float] = []
    run.pipeline.observe(timing=lambda stage, s: closes.append(s) if stage == "apply" else None)
    _world, lines = generate(SimConfig(regions=args.regions, weeks=args.weeks))
    started = time.perf_counter()
    for n, line in enumerate(lines, start=1):
        run.pipeline.feed(line, source="sim", offset=n)
    run.pipeline.finish()
    wall = time.perf_counter() - started
    ms = np.array(closes) * 1000
    tickets = len(run.tickets.all())
    p50, p99, worst = (float(np.percentile(ms, 50)), float(np.percentile(ms, 99)), float(ms.max()))
    print(
        f"embedded, {args.regions} regions x {args.weeks} weeks: {len(ms)} hour closes, "
        f"{tickets} tickets, replay {wall:.1f} s"
    )
    print(f"{'runner':>9} {'closes':>8} {'p50 ms':>8} {'p99 ms':>8} {'max ms':>8} {'target':>8}")
    print(f"{'embedded':>9} {len(ms):>8} {p50:>8.2f} {p99:>8.2f} {worst:>8.2f} {'< 2000':>8}")
    doc: dict[str, object] = {
        "regions": args.regions,
        "weeks": args.weeks,
        "closes": len(ms),
        "tickets": tickets,
        "p50_ms": p50,
        "p99_ms": p99,
        "max_ms": worst,
        "target_p99_ms": 2000,
    }
    if args.faust_regions:
        faust = faust_latency(args.faust_regions, args.weeks, args.live_hours, text)
        print(
            f"{'faust':>9} {faust['closes']:>8.0f} {faust['p50_ms']:>8.2f} "
            f"{faust['p99_ms']:>8.2f} {'—':>8} {'< 1000':>8}   (live hours of "
            f"{args.faust_regions} regions after catching up; from histogram buckets)"
        )
        print(
            f"{'  e2e':>9} {faust['live_hours']:>8} {faust['end_to_end_p50_ms']:>8.2f} "
            f"{faust['end_to_end_p99_ms']:>8.2f} {faust['end_to_end_max_ms']:>8.2f} "
            f"{'':>8}   (next hour's events acknowledged -> hour judged)"
        )
        print(
            f"catch-up {faust['catch_up_s']:.1f} s; heartbeat timer (0.25 s): "
            f"{faust['timer_beats']:.0f} beats, {faust['timer_late_over_0_5_s']:.0f} over 0.5 s "
            f"late, p99 {faust['timer_late_p99_ms']:.0f} ms late (target: none over 0.5 s)"
        )
        doc["faust"] = faust
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "latency.json").write_text(json.dumps(doc, indent=2))


if __name__ == "__main__":
    main()
