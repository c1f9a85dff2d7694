"""Benchmark: Faust worker throughput with 1, 2 and 4 workers on 8-partition topics.

Scale-out is Kafka's: regions are spread over partitions and each worker owns some. On a
2-core machine the curve flattens early; this reports it, it does not promise more.

    .venv/bin/python bench/bench_scaling.py [--readings 1000000] [--workers 1 2 4]

The reports mix of bench_throughput.py (KPI reports and single complaints), in readings.

Prints a table and writes JSON to bench/results/scaling.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from bench_throughput import SLOW_STOPS, broker, free_port, reports, stop  # noqa: E402

from monitor.lab.produce import produce_lines  # noqa: E402
from monitor.runners.faust.topics import TopicNames, create_topics  # noqa: E402

PARTITIONS = 8


def counter(port: int, name: str) -> float:
    """A counter from the worker's status page (cheaper to render than /metrics)."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/yujing/status", timeout=5) as r:
            return float(json.loads(r.read())[name])
    except OSError:
        return 0.0


def assigned(port: int) -> set[int]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/yujing/status", timeout=5) as r:
            return set(json.loads(r.read())["assigned_partitions"])
    except OSError:
        return set()


def run(bootstrap: str, lines: list[bytes], readings: int, workers: int) -> float:
    """Workers first, until they share the partitions; then the events, timed."""
    prefix = f"s{uuid.uuid4().hex[:6]}"
    names = TopicNames(prefix)
    create_topics(bootstrap, names, PARTITIONS)
    # regions are admitted from the reference data: their records go first
    regions = sorted({orjson.loads(line)["region"] for line in lines})
    produce_lines(
        [orjson.dumps({"type": "region", "region": r, "subscribers": 50_000}) for r in regions],
        bootstrap,
        names,
    )
    tmp = Path(tempfile.mkdtemp(prefix="yujing-bench-scaling-"))
    ports = [free_port() for _ in range(workers)]
    procs = []
    for k, port in enumerate(ports):
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": bootstrap,
            "YUJING_TOPIC_PREFIX": prefix,
            "YUJING_APP_ID": prefix,
            "YUJING_PARTITIONS": str(PARTITIONS),
            "YUJING_WEB_PORT": str(port),
            "YUJING_DATA_DIR": str(tmp / f"w{k}"),
            "YUJING_DATABASE_URL": f"sqlite:///{tmp / 't.db'}",
        }
        log = (tmp / f"w{k}.log").open("wb")
        procs.append(
            subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "worker"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            parts = [assigned(p) for p in ports]
            if (
                all(parts)
                and sum(map(len, parts)) == PARTITIONS
                and set().union(*parts) == set(range(PARTITIONS))
            ):
                break
            time.sleep(0.5)
        else:
            raise RuntimeError(f"workers did not share the partitions; logs in {tmp}")
        # timed from the first event a worker received to the last reading accepted; the
        # producer runs meanwhile (a few seconds of a minute-long drain)
        producer = threading.Thread(target=produce_lines, args=(lines, bootstrap, names))
        producer.start()
        started = None
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if started is None and sum(counter(p, "events_received") for p in ports) > 0:
                started = time.perf_counter()
            if sum(counter(p, "readings_accepted") for p in ports) >= readings:
                producer.join()
                return readings / max(time.perf_counter() - (started or 0.0), 1e-9)
            time.sleep(0.2)  # polling status pages, not synchronising a test
        raise RuntimeError(f"workers did not finish; logs in {tmp}")
    finally:
        for k, proc in enumerate(procs):
            stop(proc, f"worker {k + 1} of {workers} (scaling)")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--readings", type=int, default=1_000_000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    mix = reports(args.readings)
    lines = [value for _key, value, _n in mix]
    readings = sum(n for _k, _v, n in mix)
    rows = []
    with broker() as bootstrap:
        for n in args.workers:
            rows.append(
                {
                    "workers": n,
                    "records": len(lines),
                    "readings": readings,
                    "readings_per_s": run(bootstrap, lines, readings, n),
                }
            )
    base = rows[0]["readings_per_s"]
    print(
        f"{readings:,} readings in {len(lines):,} records, {PARTITIONS} partitions, "
        f"{os.cpu_count()} CPUs"
    )
    print(f"{'workers':>8} {'readings/s':>11} {'speed-up':>9}")
    for row in rows:
        row["speedup"] = row["readings_per_s"] / base
        print(f"{row['workers']:>8} {row['readings_per_s']:>11,.0f} {row['speedup']:>9.2f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(
        json.dumps(
            {"partitions": PARTITIONS, "rows": rows, "killed_after_sigterm": SLOW_STOPS}, indent=2
        )
    )


if __name__ == "__main__":
    main()
