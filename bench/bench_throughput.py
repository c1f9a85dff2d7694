"""Benchmark: ingest + hourly aggregation throughput on the real local broker, side by side.

One run, the same events (1,000 regions, ~70% KPI samples / 30% complaints, ~110-byte
JSON, one partition), measured four ways:

* raw      — aiokafka ``getmany`` + JSON decoding, no processing: the practical limit
             for a Python consumer;
* core     — the same consumer feeding Yujing's aggregation core (validation, region
             windows, hourly aggregates): what a batch path in a worker can reach;
* quix     — the same aggregation written with Quix Streams (tumbling 1 h windows per
             region), the peer framework;
* faust    — the Yujing Faust worker end to end (validation agent -> events topic ->
             aggregation agent with its table), on a smaller sample: it is the slow one.

    .venv/bin/python bench/bench_throughput.py [--events 300000] [--faust-events 20000]

Prints a table and writes JSON to bench/results/throughput.json. Uses $KAFKA_BOOTSTRAP,
or starts the project's broker (scripts/kafka.sh) on a free port.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from monitor.aggregation import HourlyAggregator  # noqa: E402
from monitor.config import load_config  # noqa: E402
from monitor.deadletters import DeadLetter  # noqa: E402
from monitor.parsing import parse_event  # noqa: E402

HOUR_MS = 3_600_000
T0 = 1_791_158_400_000  # 2026-10-05T00:00:00Z
CATEGORIES = ["broadband_lag", "weak_signal", "billing_dispute", "install_repair_timeout"]
KPIS = ["packet_loss", "latency", "bandwidth_utilisation"]


def events(n: int, regions: int = 1000, hours: int = 24) -> list[tuple[bytes, bytes]]:
    """(key, value) pairs in event-time order spread over ``hours`` hours."""
    out = []
    step = hours * HOUR_MS // max(n, 1)
    for i in range(n):
        region = f"region-{i % regions:04d}"
        ts = T0 + i * step
        if i % 10 < 3:
            event = {"type": "complaint", "id": f"c{i}", "event_time": ts, "region": region,
                     "category": CATEGORIES[i % 4], "channel": "app"}
        else:
            event = {"type": "kpi", "event_time": ts, "region": region,
                     "site": f"s{i % 7}", "kpi": KPIS[i % 3], "value": 0.5 + (i % 13) / 10}
        out.append((region.encode(), orjson.dumps(event)))
    return out


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def broker() -> Iterator[str]:
    given = os.environ.get("KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    data = Path(tempfile.mkdtemp(prefix="yujing-bench-kafka-"))
    port = free_port()
    env = {**os.environ, "KAFKA_CONTROLLER_PORT": str(free_port())}
    subprocess.run([str(ROOT / "scripts/kafka.sh"), "start", str(port), str(data)], check=True,
                   env=env, capture_output=True, timeout=600)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(ROOT / "scripts/kafka.sh"), "stop", str(data)], check=False,
                       capture_output=True, timeout=120)


async def produce(bootstrap: str, topic: str, pairs: list[tuple[bytes, bytes]]) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=20,
                                max_batch_size=1 << 20, acks=1)
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for key, value in pairs:
            pending.append(await producer.send(topic, value=value, key=key, partition=0))
            if len(pending) >= 20_000:
                await asyncio.gather(*pending)
                pending.clear()
        await asyncio.gather(*pending)
    finally:
        await producer.stop()
    return time.perf_counter() - started


async def consume(bootstrap: str, topic: str, n: int, handle: object) -> float:
    """Read ``n`` records with getmany; ``handle(list_of_values)`` per batch."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                group_id=f"bench-{uuid.uuid4().hex[:6]}",
                                auto_offset_reset="earliest", enable_auto_commit=False,
                                max_partition_fetch_bytes=8 << 20, fetch_max_bytes=64 << 20)
    await consumer.start()
    seen = 0
    started = None
    try:
        while seen < n:
            batches = await consumer.getmany(timeout_ms=1000, max_records=20_000)
            for records in batches.values():
                if started is None:
                    started = time.perf_counter()
                handle([r.value for r in records])  # type: ignore[operator]
                seen += len(records)
    finally:
        await consumer.stop()
    return time.perf_counter() - (started or time.perf_counter())


def run_raw(bootstrap: str, topic: str, n: int) -> float:
    def decode(values: list[bytes]) -> None:
        for value in values:
            orjson.loads(value)
    return asyncio.run(consume(bootstrap, topic, n, decode))


def run_core(bootstrap: str, topic: str, n: int) -> tuple[float, int]:
    aggregator = HourlyAggregator(load_config().windows.to_window_config())
    emitted = [0]

    def aggregate(values: list[bytes]) -> None:
        for value in values:
            parsed = parse_event(value)
            if not isinstance(parsed, DeadLetter):
                aggregator.add(parsed, value)
        emitted[0] += len(aggregator.poll())

    seconds = asyncio.run(consume(bootstrap, topic, n, aggregate))
    return seconds, emitted[0]


def run_quix(bootstrap: str, topic: str, n: int) -> tuple[float, int]:
    """The same per-region hourly aggregation, written the Quix Streams way."""
    from datetime import timedelta

    from quixstreams import Application

    state_dir = tempfile.mkdtemp(prefix="yujing-bench-quix-")
    processed = [0]
    started: list[float] = []

    def on_processed(*_args: object) -> None:  # counts inputs, not window outputs
        if not started:
            started.append(time.perf_counter())
        processed[0] += 1
        if processed[0] >= n:
            app.stop()

    app = Application(broker_address=bootstrap, consumer_group=f"q-{uuid.uuid4().hex[:6]}",
                      auto_offset_reset="earliest", state_dir=state_dir, loglevel="WARNING",
                      use_changelog_topics=False, on_message_processed=on_processed)
    source = app.topic(topic, value_deserializer="json",
                       timestamp_extractor=lambda value, *_: int(value["event_time"]))
    sdf = app.dataframe(source)

    def add(acc: dict, value: dict) -> dict:
        if value.get("type") == "complaint":
            acc["complaints"][value["category"]] = acc["complaints"].get(
                value["category"], 0) + 1
        else:
            stat = acc["kpi"].setdefault(value["kpi"], [0, 0.0, float("-inf")])
            stat[0] += 1
            stat[1] += value["value"]
            stat[2] = max(stat[2], value["value"])
        return acc

    sdf = sdf.tumbling_window(timedelta(hours=1), grace_ms=2 * HOUR_MS).reduce(
        reducer=add, initializer=lambda value: add({"complaints": {}, "kpi": {}}, value)).final()
    app.run()
    return time.perf_counter() - started[0], processed[0]


def run_faust(bootstrap: str, pairs: list[tuple[bytes, bytes]]) -> float:
    """Produce to a fresh prefix, start one worker, time until every event is accepted."""
    from monitor.produce import produce_lines
    from monitor.topics import TopicNames, create_topics

    prefix = f"b{uuid.uuid4().hex[:6]}"
    names = TopicNames(prefix)
    create_topics(bootstrap, names, 1)
    produce_lines((value for _key, value in pairs), bootstrap, names)
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="yujing-bench-faust-"))
    env = {**os.environ, "KAFKA_BOOTSTRAP": bootstrap, "YUJING_TOPIC_PREFIX": prefix,
           "YUJING_APP_ID": prefix, "YUJING_PARTITIONS": "1", "YUJING_WEB_PORT": str(port),
           "YUJING_DATABASE_URL": f"sqlite:///{tmp / 't.db'}", "YUJING_DATA_DIR": str(tmp)}
    log = (tmp / "worker.log").open("wb")
    worker = subprocess.Popen([sys.executable, "-m", "monitor.cli", "worker"], cwd=ROOT,
                              env=env, stdout=log, stderr=subprocess.STDOUT)

    def accepted() -> float | None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
                text = r.read().decode()
        except OSError:
            return None
        for line in text.splitlines():
            if line.startswith("yujing_events_accepted_total "):
                return float(line.split()[-1])
        return None

    try:
        deadline = time.monotonic() + 900
        started = None
        while time.monotonic() < deadline:
            count = accepted()
            if count is not None and count > 0 and started is None:
                started = (time.perf_counter(), count)
            if count is not None and count >= len(pairs):
                t0, c0 = started or (time.perf_counter(), 0)
                return (time.perf_counter() - t0) * len(pairs) / max(len(pairs) - c0, 1)
            time.sleep(0.2)
        raise RuntimeError(f"faust worker did not finish; see {tmp / 'worker.log'}")
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000)
    parser.add_argument("--faust-events", type=int, default=20_000)
    parser.add_argument("--skip", nargs="*", default=[], choices=["quix", "faust"])
    args = parser.parse_args()
    pairs = events(args.events)
    size = sum(len(v) for _k, v in pairs) / len(pairs)
    rows: dict[str, dict[str, float]] = {}
    with broker() as bootstrap:
        topic = f"bench-{uuid.uuid4().hex[:6]}"
        produce_s = asyncio.run(produce(bootstrap, topic, pairs))
        raw_s = run_raw(bootstrap, topic, len(pairs))
        rows["raw aiokafka getmany + json"] = {"events": len(pairs), "seconds": raw_s}
        core_s, hours = run_core(bootstrap, topic, len(pairs))
        rows["yujing core on aiokafka"] = {"events": len(pairs), "seconds": core_s,
                                           "hourly_aggregates": hours}
        if "quix" not in args.skip:
            quix_s, done = run_quix(bootstrap, topic, len(pairs))
            rows["quix streams (1 h tumbling reduce)"] = {"events": done, "seconds": quix_s}
        if "faust" not in args.skip:
            faust_pairs = pairs[: args.faust_events]
            rows["yujing faust worker (end to end)"] = {
                "events": len(faust_pairs), "seconds": run_faust(bootstrap, faust_pairs)}
    raw_rate = len(pairs) / raw_s
    print(f"{len(pairs):,} events, {size:.0f} bytes each, 1 partition; produced in "
          f"{produce_s:.1f} s")
    print(f"{'path':38} {'events':>9} {'seconds':>8} {'events/s':>10} {'vs raw':>7}")
    for name, row in rows.items():
        row["rate"] = row["events"] / row["seconds"]
        row["vs_raw"] = row["rate"] / raw_rate
        print(f"{name:38} {row['events']:>9,.0f} {row['seconds']:>8.2f} {row['rate']:>10,.0f} "
              f"{row['vs_raw']:>7.2f}")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "throughput.json").write_text(json.dumps({
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "event_bytes": size, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
