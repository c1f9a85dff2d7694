"""The intake on a process of its own, on the real broker: it checks, sends and commits as
the in-process intake does, the worker keeps its books, a killed one is replaced without
losing a record, and one outliving its worker (a SIGKILLed one) exits by itself."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import replace

import orjson
import pytest
from kafka import KafkaAdminClient, KafkaProducer

from alerts.taxonomy import DEFAULT_TAXONOMY, CategoryInfo, Department, Taxonomy
from monitor.events.deadletters import Reason
from monitor.runners.faust.bundles import decode_bundle
from monitor.runners.faust.intake_process import IntakeProcess
from monitor.runners.faust.settings import WorkerSettings
from monitor.runners.faust.validation import IntakeRules, check_batch
from monitor.windows.aggregation import WindowConfig
from tests.kafka_harness import wait_until

HOUR = 3_600_000


def now_ms() -> int:
    return int(time.time() * 1000)


def sample(region: str, at: int, value: float = 1.5) -> bytes:
    return orjson.dumps(
        {
            "type": "kpi",
            "event_time": at,
            "region": region,
            "site": "s1",
            "kpi": "latency",
            "value": value,
        }
    )


def records_now() -> list[bytes]:
    now = now_ms()
    return [
        sample("north", now - HOUR),
        b"   ",  # blank
        b'{"type": "kpi", "value": "high"}',  # invalid
        sample("south", now - 2 * HOUR),
        sample("north", now + 400 * 24 * HOUR),  # a year ahead of the clock
        sample("east", now - HOUR, 2.5),
    ]


def settings_for(scenario) -> WorkerSettings:
    return WorkerSettings(
        bootstrap=scenario.bootstrap,
        topic_prefix=scenario.prefix,
        app_id=scenario.prefix,
        partitions=scenario.partitions,
    )


def while_running(child: IntakeProcess, rules: IntakeRules, work):
    """``work`` (a coroutine function) while the intake process runs; stopped after."""
    child.start(rules)
    try:
        return asyncio.run(work())
    finally:
        child.stop()


def exited(child: IntakeProcess) -> AssertionError:
    return AssertionError(f"the intake process exited (exit code {child.exitcode})")


@pytest.mark.kafka
def test_the_intake_process_checks_sends_and_commits_as_the_worker_would(scenario):
    scenario.create_topics()
    names, raw = scenario.names, scenario.names.name("kpis")
    values = records_now()
    producer = KafkaProducer(bootstrap_servers=scenario.bootstrap)
    for value in values:
        producer.send(raw, value, partition=0)
    producer.flush()
    producer.close()
    rules = IntakeRules(DEFAULT_TAXONOMY, WindowConfig(), scenario.partitions, {raw: "kpi"})
    child = IntakeProcess(settings_for(scenario), [raw, names.name("complaints")])

    async def follow() -> tuple[int, Counter[str]]:
        received, reasons = 0, Counter()
        async with asyncio.timeout(120):
            async for tally in child.reports():
                received += tally.received
                reasons += tally.dead
                if received >= len(values):
                    return received, reasons
        raise exited(child)

    received, reasons = while_running(child, rules, follow)
    assert child.exitcode == 0, "a stop is a clean exit"
    # what the worker's own check makes of the same records (their time bounds agree:
    # the same wall clock within the hour these records keep clear of)
    expected = check_batch([(v, f"{raw}:0", i) for i, v in enumerate(values)], rules, now_ms())
    assert received == len(values)
    assert reasons == Counter(d.reason.value for d in expected.dead)
    assert reasons == Counter(
        [Reason.EMPTY.value, Reason.MISSING_FIELD.value, Reason.BAD_TIME.value]
    )
    letters = scenario.read_topic("deadletters")  # (spread over its partitions)
    assert sorted((h["offset"], h["reason"].decode()) for _k, _v, h in letters) == [
        (b"1", Reason.EMPTY.value),
        (b"2", Reason.MISSING_FIELD.value),
        (b"4", Reason.BAD_TIME.value),
    ]
    sent = sorted(
        (raw_value, source, offset)
        for _k, value, _h in scenario.read_topic("events")
        for raw_value, source, offset, _event in decode_bundle(value)
    )
    bundled = sorted(
        (raw_value, source, offset)
        for bundles in expected.bundles.values()
        for bundle in bundles
        for raw_value, source, offset, _event in decode_bundle(bundle)
    )
    assert sent == bundled and len(sent) == 3
    # the stop committed what the broker acknowledged
    admin = KafkaAdminClient(bootstrap_servers=scenario.bootstrap)
    try:
        committed = admin.list_group_offsets([f"{scenario.prefix}-intake"])[
            f"{scenario.prefix}-intake"
        ]
    finally:
        admin.close()
    assert {tp.partition: meta.offset for tp, meta in committed.items() if tp.topic == raw} == {
        0: len(values)
    }


@pytest.mark.kafka
def test_the_intake_process_checks_by_the_rules_the_worker_sends_it(scenario):
    """A config reload reaches the process: a category the operator adds is refused
    before the new rules, taken after."""
    scenario.create_topics()
    raw = scenario.names.name("complaints")
    before = IntakeRules(DEFAULT_TAXONOMY, WindowConfig(), scenario.partitions, {raw: "complaint"})
    own = Taxonomy(
        categories=(
            *DEFAULT_TAXONOMY.categories,
            CategoryInfo("slow_fibre", "product_quality", Department.NETWORK_MAINTENANCE),
        ),
        channels=DEFAULT_TAXONOMY.channels,
        kpis=DEFAULT_TAXONOMY.kpis,
    )
    producer = KafkaProducer(bootstrap_servers=scenario.bootstrap)

    def complaint(id_: str) -> None:
        record = {
            "type": "complaint",
            "id": id_,
            "event_time": now_ms() - HOUR,
            "region": "north",
            "category": "slow_fibre",
            "channel": "app",
        }
        producer.send(raw, orjson.dumps(record), partition=0)
        producer.flush()

    child = IntakeProcess(settings_for(scenario), [raw])

    async def run() -> tuple[Counter[str], Counter[str]]:
        reports = child.reports()
        async with asyncio.timeout(120):
            complaint("c1")
            first: Counter[str] = Counter()
            async for tally in reports:
                first += tally.dead
                if tally.received:
                    break
            child.send_rules(replace(before, taxonomy=own))
            async for tally in reports:  # until it says it took them
                if tally.rules == 1:
                    break
            complaint("c2")
            second: Counter[str] = Counter()
            async for tally in reports:
                second += tally.dead
                if tally.received:
                    return first, second
        raise exited(child)

    try:
        first, second = while_running(child, before, run)
    finally:
        producer.close()
    assert first == Counter({Reason.UNKNOWN_CATEGORY.value: 1})
    assert second == Counter()


def intake_processes(pid: int) -> list[int]:
    """The worker's spawned children (not multiprocessing's resource tracker)."""
    found = []
    for task in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{task}/children") as f:
            found += [int(c) for c in f.read().split()]
    return [c for c in found if b"spawn_main" in _cmdline(c)]


def _cmdline(pid: int) -> bytes:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read()
    except FileNotFoundError:
        return b""


@pytest.mark.kafka
def test_a_killed_intake_process_is_replaced_and_loses_nothing(scenario):
    from tests.services.test_kafka_pipeline import hour_lines, region_line

    scenario.create_topics()
    first = [region_line("region-001", 50_000), *hour_lines("region-001", range(0, 3))]
    scenario.produce(first)
    worker = scenario.start_worker("w1")
    readings = len(first) - 1  # the region record is reference data

    def accepted() -> int:
        status = worker.status()
        return int(status["readings_accepted"]) if status else -1

    wait_until(lambda: accepted() == readings, 120, "the first records in their windows")
    (intake,) = intake_processes(worker.process.pid)
    os.kill(intake, signal.SIGKILL)
    more = hour_lines("region-001", range(3, 6))
    scenario.produce(more)
    wait_until(lambda: accepted() == readings + len(more), 120, "the records after the kill")
    wait_until(
        lambda: any(c != intake for c in intake_processes(worker.process.pid)),
        60,
        "another intake process",
    )
    assert worker.alive()
    assert "intake process exited; starting another" in worker.log.read_text()


def test_the_intake_process_exits_when_its_worker_is_killed():
    """Its worker SIGKILLed, nobody stops the child: it notices and exits by itself."""
    code = (
        "import socket, sys\n"
        "from alerts.taxonomy import DEFAULT_TAXONOMY\n"
        "from monitor.runners.faust.intake_process import IntakeProcess\n"
        "from monitor.runners.faust.settings import WorkerSettings\n"
        "from monitor.runners.faust.validation import IntakeRules\n"
        "from monitor.windows.aggregation import WindowConfig\n"
        "if __name__ == '__main__':\n"
        "    broker = socket.create_server(('127.0.0.1', 0))\n"  # takes, never answers
        "    port = broker.getsockname()[1]\n"
        "    child = IntakeProcess(WorkerSettings(bootstrap=f'127.0.0.1:{port}'), ['raw'])\n"
        "    child.start(IntakeRules(DEFAULT_TAXONOMY, WindowConfig(), 1, {}))\n"
        "    broker.accept()\n"  # the child is up and connecting
        "    print(child.process.pid, flush=True)\n"
        "    sys.stdin.read()\n"  # killed while waiting here
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    assert _alive(child)
    parent.kill()
    parent.wait(timeout=30)
    deadline = time.monotonic() + 15  # well before the client's own 40 s timeout
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child), "the intake process outlived its worker"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False
