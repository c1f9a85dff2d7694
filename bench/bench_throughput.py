"""Benchmark: ingest + hourly aggregation throughput on the real local broker, side by side.

Two mixes of the same kind of data for 1,000 regions, one partition each, counted in
readings (a complaint or a KPI reading is one):

* samples  — one Kafka record per reading: ~70% KPI samples / 30% complaints in every
             region, ~110-byte JSON (what a naive collector sends);
* reports  — KPI readings as OSS exports deliver them: one record per site and hour with
             12 five-minute readings of each of 3 KPIs (36 readings), and complaints one
             record each (~3 per region-hour; 96% of the readings arrive in reports).

Each mix is measured four ways, in the same run on the same topic:

* raw      — aiokafka ``getmany`` + JSON decoding, no processing: the practical limit
             for a Python consumer;
* core     — the same consumer feeding Yujing's aggregation core (validation, region
             windows, hourly aggregates; the regions admitted from their reference
             records first, as in production): what a batch path in a worker can reach;
             raw and core alternate three times, each timed as its best round;
* quix     — the same aggregation written with Quix Streams (tumbling 1 h windows per
             region), the peer framework;
* faust    — the Yujing Faust worker end to end (batch intake -> bundles on the events
             topic -> aggregation agent with its table -> detectors -> tickets), on a
             smaller sample of the samples mix: timed twice, to every reading in a
             window (what Quix's reduce does) and to every hour closed judged.

    .venv/bin/python bench/bench_throughput.py [--events 300000] [--readings 3000000]

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
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from detectors.timeaxis import HOUR_MS  # noqa: E402
from monitor.config.load import load_config  # noqa: E402
from monitor.runners.collector import tune_for_streaming  # noqa: E402

T0 = 1_791_158_400_000  # 2026-10-05T00:00:00Z
CATEGORIES = ["broadband_lag", "weak_signal", "billing_dispute", "install_repair_timeout"]
KPIS = ["packet_loss", "latency", "bandwidth_utilisation"]
CORE_ROUNDS = 3  # raw and core, alternating (``measure``)


Mix = list[tuple[bytes, bytes, int]]  # (key, value, readings)


def events(n: int, regions: int = 1000, hours: int = 24) -> Mix:
    """The samples mix: (key, value, 1) in event-time order spread over ``hours`` hours."""
    out = []
    step = hours * HOUR_MS // max(n, 1)
    for i in range(n):
        region = f"region-{i % regions:04d}"
        ts = T0 + i * step
        # three in ten are complaints, in every region (by round, not by index: a region
        # is every ``regions``-th event, and with only one input its hours never close)
        if (i // regions) % 10 < 3:
            event = {
                "type": "complaint",
                "id": f"c{i}",
                "event_time": ts,
                "region": region,
                "category": CATEGORIES[i % 4],
                "channel": "app",
            }
        else:
            event = {
                "type": "kpi",
                "event_time": ts,
                "region": region,
                "site": f"s{i % 7}",
                "kpi": KPIS[i % 3],
                "value": 0.5 + (i % 13) / 10,
            }
        out.append((region.encode(), orjson.dumps(event), 1))
    return out


def reports(readings: int, regions: int = 1000, sites: int = 2, complaints: int = 3) -> Mix:
    """The reports mix: per region and hour, one report per site (3 KPIs x 12 readings)
    and ``complaints`` single complaints; hours in order until ``readings`` are reached."""
    out: Mix = []
    total, serial, hour = 0, 0, 0
    while total < readings:
        start = T0 + hour * HOUR_MS
        for r in range(regions):
            region = f"region-{r:04d}"
            key = region.encode()
            for s in range(sites):
                base = 0.2 + ((r * 7 + s * 3 + hour) % 11) / 10
                kpis = {
                    "packet_loss": [round(base + i / 100, 3) for i in range(12)],
                    "latency": [round(12 + base * 10 + i / 10, 2) for i in range(12)],
                    "bandwidth_utilisation": [round(30 + base * 20 + i, 1) for i in range(12)],
                }
                out.append(
                    (
                        key,
                        orjson.dumps(
                            {
                                "type": "kpi_report",
                                "period_start": start,
                                "interval_s": 300,
                                "region": region,
                                "site": f"{region}-s{s}",
                                "kpis": kpis,
                            }
                        ),
                        36,
                    )
                )
            for c in range(complaints):
                serial += 1
                out.append(
                    (
                        key,
                        orjson.dumps(
                            {
                                "type": "complaint",
                                "id": f"c{serial}",
                                "event_time": start + (c * 1_117_000 + r * 997) % HOUR_MS,
                                "region": region,
                                "category": CATEGORIES[(r + c) % 4],
                                "channel": "app",
                            }
                        ),
                        1,
                    )
                )
            total += sites * 36 + complaints
        hour += 1
    return out


SLOW_STOPS: list[str] = []  # workers that outlived SIGTERM by a minute (reported)


def stop(process: subprocess.Popen[bytes], name: str = "worker") -> None:
    """SIGTERM, a minute's grace, then SIGKILL (which the worker survives by design);
    a worker that needed the kill is reported, not hidden."""
    process.terminate()
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        SLOW_STOPS.append(name)
        print(f"warning: {name} did not stop within 60 s of SIGTERM; killed", file=sys.stderr)
        process.kill()
        process.wait(timeout=60)


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
    subprocess.run(
        [str(ROOT / "scripts/kafka.sh"), "start", str(port), str(data)],
        check=True,
        env=env,
        capture_output=True,
        timeout=600,
    )
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run(
            [str(ROOT / "scripts/kafka.sh"), "stop", str(data)],
            check=False,
            capture_output=True,
            timeout=120,
        )


async def produce(bootstrap: str, topic: str, pairs: Mix) -> float:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(
        bootstrap_servers=bootstrap, linger_ms=20, max_batch_size=1 << 20, acks=1
    )
    await producer.start()
    started = time.perf_counter()
    try:
        pending = []
        for key, value, _readings in pairs:
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

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"bench-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=8 << 20,
        fetch_max_bytes=64 << 20,
    )
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


def run_core(bootstrap: str, topic: str, n: int, regions: list[str]) -> tuple[float, int, float]:
    """Seconds, hourly aggregates emitted, and the window state left at the end in MB per
    1,000 regions, as a worker saves it (JSON: what its table and changelog hold).

    The pipeline's own seams, as the runners call them: ``validate_many`` (the hot path's
    decoder over a batch, what the worker's intake runs; until 2026-11-27 this path called
    ``parse_event``, which also builds the pydantic model no runner builds, and until
    2026-11-28 ``validate`` a record at a time), ``ingest`` (per-record isolation, the time
    bounds, the counters) and ``close``; no detectors (those are the Faust rows' second time)."""
    from monitor.runners.embedded import build

    with tempfile.TemporaryDirectory(prefix="yujing-bench-core-") as tmp:
        pipeline = build(load_config(), f"sqlite:///{tmp}/core.db").pipeline
        # regions are admitted from the reference data (``windows.admit_regions``): their
        # records go first, as on the Faust path (without them every event was
        # dead-lettered as an unknown region, and this path measured parsing alone until
        # 2026-11-27)
        for record in region_records(regions):
            pipeline.ingest(pipeline.validate(record))  # type: ignore[arg-type]
        emitted = [0]

        def aggregate(values: list[bytes]) -> None:
            checked = pipeline.validate_many(values, source=topic)
            for value, event in zip(values, checked, strict=True):
                if event is not None:
                    pipeline.ingest(event, value, topic)
            emitted[0] += len(pipeline.close())

        seconds = asyncio.run(consume(bootstrap, topic, n, aggregate))
        if pipeline.stats.dead_lettered:  # a refused event would make the rate a lie
            raise RuntimeError(f"the core refused events: {dict(pipeline.stats.dead_lettered)}")
        states = pipeline.aggregator.regions.values()
        saved = sum(len(orjson.dumps(state.to_json())) for state in states)
        return seconds, emitted[0], saved / max(len(states), 1) * 1000 / 2**20


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

    app = Application(
        broker_address=bootstrap,
        consumer_group=f"q-{uuid.uuid4().hex[:6]}",
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
        use_changelog_topics=False,
        on_message_processed=on_processed,
    )
    source = app.topic(
        topic,
        value_deserializer="json",
        timestamp_extractor=lambda value, *_: int(value.get("event_time") or value["period_start"]),
    )
    sdf = app.dataframe(source)

    def add(acc: dict, value: dict) -> dict:
        if value.get("type") == "complaint":
            acc["complaints"][value["category"]] = acc["complaints"].get(value["category"], 0) + 1
        elif value.get("type") == "kpi_report":
            for kpi, readings in value["kpis"].items():
                stat = acc["kpi"].setdefault(kpi, [0, 0.0, float("-inf")])
                stat[0] += len(readings)
                stat[1] += sum(readings)
                stat[2] = max(stat[2], *readings)
        else:
            stat = acc["kpi"].setdefault(value["kpi"], [0, 0.0, float("-inf")])
            stat[0] += 1
            stat[1] += value["value"]
            stat[2] = max(stat[2], value["value"])
        return acc

    sdf = (
        sdf.tumbling_window(timedelta(hours=1), grace_ms=2 * HOUR_MS)
        .reduce(reducer=add, initializer=lambda value: add({"complaints": {}, "kpi": {}}, value))
        .final()
    )
    app.run()
    return time.perf_counter() - started[0], processed[0]


def region_records(regions: list[str]) -> list[bytes]:
    return [orjson.dumps({"type": "region", "region": r, "subscribers": 50_000}) for r in regions]


def run_faust(bootstrap: str, pairs: Mix) -> tuple[float, float]:
    """Produce to a fresh prefix, start one worker; seconds until every reading is in a
    window, and until every hour those closed is judged too."""
    from monitor.lab.produce import produce_lines
    from monitor.runners.faust.topics import TopicNames, create_topics

    prefix = f"b{uuid.uuid4().hex[:6]}"
    names = TopicNames(prefix)
    create_topics(bootstrap, names, 1)
    # regions are admitted from the reference data: their records go first
    regions = sorted({orjson.loads(value)["region"] for _key, value, _n in pairs})
    produce_lines(region_records(regions), bootstrap, names)
    produce_lines((value for _key, value, _n in pairs), bootstrap, names)
    total = sum(n for _key, _value, n in pairs)
    port = free_port()
    tmp = Path(tempfile.mkdtemp(prefix="yujing-bench-faust-"))
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "YUJING_TOPIC_PREFIX": prefix,
        "YUJING_APP_ID": prefix,
        "YUJING_PARTITIONS": "1",
        "YUJING_WEB_PORT": str(port),
        "YUJING_DATABASE_URL": f"sqlite:///{tmp / 't.db'}",
        "YUJING_DATA_DIR": str(tmp),
        "YUJING_BATCH_SIZE": "5000",
        "YUJING_BATCH_SECONDS": "0.5",
    }
    log = (tmp / "worker.log").open("wb")
    worker = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "worker"],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )

    def counters() -> tuple[float, bool, bool] | None:
        """(raw events received, whether every reading is in a window, whether every hour
        closed is judged too), once the worker serves.

        From the cheap status page: rendering /metrics for 1,000 regions takes the worker's
        event loop tens of milliseconds, and polling it every 0.1 s slowed the worker 3x.
        A catch-up keeps its closed hours back to judge them together: the run is over
        once none waits: the second time includes the detectors and the tickets.
        """
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/yujing/status", timeout=5) as r:
                doc = json.loads(r.read())
        except OSError:
            return None
        accepted = doc["readings_accepted"] >= total
        judged = doc["aggregates"] == doc["aggregates_closed"] and doc["hours_to_judge"] == 0
        return float(doc["events_received"]), accepted, accepted and judged

    try:
        # timed from the first event the worker received (start-up and group join excluded)
        # to the last reading accepted into a window and the hours it closed judged
        deadline = time.monotonic() + 900
        started = accepted = None
        while time.monotonic() < deadline:
            seen = counters()
            now = time.perf_counter()
            if seen is not None and seen[0] > 0 and started is None:
                started = now
            if seen is not None and seen[1] and accepted is None:
                accepted = now - (started or now)
            if seen is not None and seen[2] and accepted is not None:
                return accepted, now - (started or now)
            time.sleep(0.1)  # polling a status page, not synchronising a test
        raise RuntimeError(f"faust worker did not finish; see {tmp / 'worker.log'}")
    finally:
        stop(worker, "faust worker (throughput)")


def measure(
    bootstrap: str, name: str, mix: Mix, faust_records: int, skip: list[str]
) -> dict[str, dict[str, float]]:
    """Every path over one mix, on one fresh topic; rates in readings per second."""
    readings = sum(n for _k, _v, n in mix)
    topic = f"bench-{name}-{uuid.uuid4().hex[:6]}"
    produce_s = asyncio.run(produce(bootstrap, topic, mix))
    rows: dict[str, dict[str, Any]] = {}
    regions = sorted({orjson.loads(value)["region"] for _key, value, _n in mix})
    # the core's target is a ratio to raw: the two alternate, each its best round (on this
    # VM one run of either varies by 20-30%, so a ratio of single runs ranged 0.19-0.36
    # for the same code minutes apart)
    raw_runs: list[float] = []
    core_runs: list[float] = []
    for _ in range(CORE_ROUNDS):
        raw_runs.append(run_raw(bootstrap, topic, len(mix)))
        core_s, hours, state_mb = run_core(bootstrap, topic, len(mix), regions)
        if not hours:
            raise RuntimeError("the core closed no hour: its events were not aggregated")
        core_runs.append(core_s)
    raw_s = min(raw_runs)
    rows["raw aiokafka getmany + json"] = {
        "readings": readings,
        "seconds": raw_s,
        "rounds": raw_runs,
    }
    rows["yujing core on aiokafka"] = {
        "readings": readings,
        "seconds": min(core_runs),
        "rounds": core_runs,
        "hourly_aggregates": hours,
        "window_state_mb_per_1000_regions": state_mb,
    }
    if "quix" not in skip:
        quix_s, _done = run_quix(bootstrap, topic, len(mix))
        rows["quix streams (1 h tumbling reduce)"] = {"readings": readings, "seconds": quix_s}
    if "faust" not in skip:
        part = mix[:faust_records]
        windows_s, judged_s = run_faust(bootstrap, part)
        part_readings = sum(n for _k, _v, n in part)
        # what Quix's reduce does: every reading in its region's hourly window
        rows["yujing faust worker (windows)"] = {"readings": part_readings, "seconds": windows_s}
        # and the rest of the way: every hour closed judged, its tickets written
        rows["yujing faust worker (hours judged)"] = {
            "readings": part_readings,
            "seconds": judged_s,
        }
    print(f"{name}: window state at the end, {state_mb:.1f} MB per 1,000 regions (as saved)")
    print(
        f"{name}: raw and core alternated {CORE_ROUNDS} times, each its best; seconds: raw "
        + " ".join(f"{t:.2f}" for t in raw_runs)
        + ", core "
        + " ".join(f"{t:.2f}" for t in core_runs)
    )
    raw_rate = readings / raw_s
    quix = rows.get("quix streams (1 h tumbling reduce)")
    quix_rate = quix["readings"] / quix["seconds"] if quix else None
    size = sum(len(v) for _k, v, _n in mix) / len(mix)
    print(
        f"\n{name}: {len(mix):,} records of {size:.0f} bytes on average, {readings:,} "
        f"readings, 1 partition; produced in {produce_s:.1f} s"
    )
    print(
        f"{'path':38} {'readings':>10} {'seconds':>8} {'readings/s':>11} {'vs raw':>7} "
        f"{'vs quix':>8}"
    )
    for path, row in rows.items():
        row["rate"] = row["readings"] / row["seconds"]
        row["vs_raw"] = row["rate"] / raw_rate
        row["vs_quix"] = row["rate"] / quix_rate if quix_rate else float("nan")
        row["records"] = len(mix) if "faust" not in path else min(faust_records, len(mix))
        row["bytes_per_record"] = size
        print(
            f"{path:38} {row['readings']:>10,.0f} {row['seconds']:>8.2f} {row['rate']:>11,.0f} "
            f"{row['vs_raw']:>7.3f} {row['vs_quix']:>8.2f}"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=300_000, help="records of the samples mix")
    parser.add_argument(
        "--faust-events",
        type=int,
        default=50_000,
        help="records of the samples mix the Faust worker gets",
    )
    parser.add_argument(
        "--readings",
        type=int,
        default=3_000_000,
        help="readings of the reports mix (all paths, the Faust worker too)",
    )
    parser.add_argument(
        "--mix", nargs="*", default=["samples", "reports"], choices=["samples", "reports"]
    )
    parser.add_argument("--skip", nargs="*", default=[], choices=["quix", "faust"])
    args = parser.parse_args()
    # the collector set as the worker sets it (monitor/runners/collector.py), for every
    # path measured in this process alike: raw, core and Quix Streams
    tune_for_streaming()
    results: dict[str, object] = {}
    with broker() as bootstrap:
        if "samples" in args.mix:
            results["samples"] = measure(
                bootstrap, "samples", events(args.events), args.faust_events, args.skip
            )
        if "reports" in args.mix:
            mix = reports(args.readings)
            results["reports"] = measure(bootstrap, "reports", mix, len(mix), args.skip)
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "throughput.json").write_text(
        json.dumps(
            {
                "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
                "targets": {"per_worker": 50_000, "vs_raw": 0.5, "vs_quix": 1.0},
                "mixes": results,
            },
            indent=2,
        )
    )


if __name__ == "__main__":
    main()
