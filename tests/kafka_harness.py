"""Drive real Faust workers on the real broker: topics, producers, workers, waiting, reading."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import orjson
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from alerts.tickets.store import TicketStore
from monitor.config.load import load_config
from monitor.lab.produce import produce_lines
from monitor.runners.embedded import build, run_lines
from monitor.runners.faust.topics import TopicNames, create_topics
from monitor.windows.aggregation import HourlyAggregate
from tests.conftest import ROOT, free_port


def wait_until(
    condition: Callable[[], bool],
    timeout: float,
    what: str,
    interval: float = 0.5,
    explain: Callable[[], str] | None = None,
) -> None:
    """Poll a condition until it holds; fail with ``what`` at the deadline, and with what
    ``explain`` says of the state then (a stall seen once in a full run must be
    diagnosable from its log alone)."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():
            return
        if time.monotonic() > deadline:
            said = f"\n{explain()}" if explain is not None else ""
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}{said}")
        time.sleep(interval)


@dataclass
class Worker:
    name: str
    process: subprocess.Popen[bytes]
    web_port: int
    log: Path

    def status(self) -> dict[str, object] | None:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.web_port}/yujing/status", timeout=2
            ) as response:
                return orjson.loads(response.read())
        except OSError:
            return None

    def alive(self) -> bool:
        return self.process.poll() is None

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.web_port}/metrics", timeout=10
        ) as response:
            return response.read().decode()

    def stacks(self, timeout: float = 10.0, most: int = 800) -> list[str]:
        """Where each thread and asyncio task of a live worker stands: SIGUSR1 has its
        event loop print them (mode's worker). A stall after a SIGKILL was seen in a full
        run with nothing in the log to say where the worker waited. The frames only (the
        dump's local variables can be huge), at most ``most`` lines; none within
        ``timeout`` says the event loop itself is blocked."""
        start = self.log.stat().st_size
        self.process.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + timeout
        seen, size = "", -1
        while time.monotonic() < deadline:
            with self.log.open("rb") as fh:
                fh.seek(start)
                seen = fh.read().decode(errors="replace")
            if "THREAD " in seen and len(seen) == size:  # printed, and done growing
                break
            size = len(seen)
            time.sleep(0.5)
        if "THREAD " not in seen:
            return [f"(no stack dump within {timeout:.0f}s of SIGUSR1: the event loop is blocked)"]
        kept, skipping = [], False
        for line in seen.splitlines():
            if line.startswith("LOCAL VARIABLES"):  # a thread's (big): up to its tasks
                skipping = True
            elif line.startswith(("THREAD ", "TASKS")):
                skipping = False
            if not skipping and line.strip("=-~ "):
                kept.append(line[:200])
        return kept[:most]


def sample(text: str, name: str) -> float:
    """The sum of a metric's samples in an exposition (0 when it has none)."""
    return sum(
        float(line.split()[-1])
        for line in text.splitlines()
        if line.startswith(name + " ") or line.startswith(name + "{")
    )


@dataclass
class Scenario:
    bootstrap: str
    tmp: Path
    partitions: int = 4
    prefix: str = field(default_factory=lambda: f"t{uuid.uuid4().hex[:8]}")
    workers: list[Worker] = field(default_factory=list)

    @property
    def names(self) -> TopicNames:
        return TopicNames(self.prefix)

    @property
    def db_url(self) -> str:
        return f"sqlite:///{self.tmp / 'tickets.db'}"

    def create_topics(self) -> None:
        create_topics(self.bootstrap, self.names, self.partitions)

    def produce(self, lines: Iterable[bytes]) -> None:
        produce_lines(lines, self.bootstrap, self.names)

    def start_worker(self, name: str, **extra_env: str) -> Worker:
        port = free_port()
        log = self.tmp / f"{name}.log"
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP": self.bootstrap,
            "YUJING_TOPIC_PREFIX": self.prefix,
            "YUJING_APP_ID": self.prefix,
            "YUJING_PARTITIONS": str(self.partitions),
            "YUJING_DATABASE_URL": self.db_url,
            "YUJING_WEB_PORT": str(port),
            "YUJING_DATA_DIR": str(self.tmp / f"faust-{name}"),
            "YUJING_SESSION_TIMEOUT": "10",
            **extra_env,
        }
        with log.open("wb") as fh:
            process = subprocess.Popen(
                [sys.executable, "-m", "monitor.cli", "worker"],
                cwd=ROOT,
                env=env,
                stdout=fh,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(name, process, port, log)
        self.workers.append(worker)
        wait_until(
            lambda: worker.status() is not None or not worker.alive(),
            120,
            f"worker {name} to serve its status page",
        )
        assert worker.alive(), f"worker {name} died:\n{log.read_text()[-4000:]}"
        return worker

    def kill(self, worker: Worker) -> None:
        worker.process.send_signal(signal.SIGKILL)
        worker.process.wait(timeout=30)

    def stop_all(self) -> None:
        for worker in self.workers:
            if worker.alive():
                worker.process.send_signal(signal.SIGTERM)
        for worker in self.workers:
            try:
                worker.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                worker.process.kill()

    # -- reading results ----------------------------------------------------------------
    def read_topic(self, role: str) -> list[tuple[bytes | None, bytes, dict[str, bytes]]]:
        consumer = KafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False
        )
        try:
            topic = self.names.name(role)
            tps = [
                TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())
            ]
            consumer.assign(tps)
            consumer.seek_to_beginning(*tps)
            end = consumer.end_offsets(tps)
            out = []
            while any(consumer.position(tp) < end[tp] for tp in tps):
                for records in consumer.poll(timeout_ms=500).values():
                    out.extend((r.key, r.value, dict(r.headers or [])) for r in records)
            return out
        finally:
            consumer.close()

    def saved_windows(self) -> int:
        """Records on the windows table's changelog: how many snapshots wrote state."""
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        try:
            topic = f"{self.prefix}-windows-changelog"
            tps = [TopicPartition(topic, p) for p in range(self.partitions)]
            return sum(consumer.end_offsets(tps).values())
        finally:
            consumer.close()

    def hourly(self) -> list[HourlyAggregate]:
        return [HourlyAggregate.from_json(orjson.loads(v)) for _, v, _ in self.read_topic("hourly")]

    def lag(self) -> int:
        """Messages of the input topics not yet committed: the raw topics by the workers'
        intake group, the events topic by their Faust group."""
        by_partition = self.lag_by_partition()
        return -1 if by_partition is None else sum(by_partition.values())

    def lag_by_partition(self) -> dict[str, int] | None:
        """ "topic:partition" -> records not yet committed by the group reading it; None
        while the broker cannot say yet."""
        admin = KafkaAdminClient(bootstrap_servers=self.bootstrap)
        consumer = KafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None)
        intake = f"{self.prefix}-intake"
        try:
            try:
                found = admin.list_group_offsets([self.prefix, intake])
            except KafkaError as exc:
                if exc.retriable:  # e.g. a new broker still creating __consumer_offsets
                    return None
                raise
            out = {}
            for role in ("complaints", "kpis", "events"):
                committed = found.get(self.prefix if role == "events" else intake, {})
                topic = self.names.name(role)
                tps = [TopicPartition(topic, p) for p in range(self.partitions)]
                for tp, end in consumer.end_offsets(tps).items():
                    meta = committed.get(tp)
                    done = meta.offset if meta is not None and meta.offset >= 0 else 0
                    out[f"{role}:{tp.partition}"] = end - done
            return out
        finally:
            consumer.close()
            admin.close()

    def wait_drained(self, expected_hours: int, timeout: float) -> None:
        wait_until(
            lambda: self.drained(expected_hours),
            timeout,
            "the stream to drain",
            explain=lambda: self.explain(expected_hours),
        )

    def explain(self, expected_hours: int) -> str:
        """What a stalled run looks like: the lag left per partition, the hours written,
        and each worker's status page and last log lines."""
        lines = [
            f"lag by partition: {self.lag_by_partition()}",
            f"final hours {len(final_hours(self.hourly()))} of {expected_hours}",
        ]
        for worker in self.workers:
            state = "alive" if worker.alive() else f"exited {worker.process.returncode}"
            lines.append(f"--- worker {worker.name} ({state}); status: {worker.status()}")
            lines += worker.log.read_text(errors="replace").splitlines()[-25:]
            if worker.alive():
                lines += [f"--- worker {worker.name}: stacks", *worker.stacks()]
        return "\n".join(lines)

    def drained(self, expected_hours: int) -> bool:
        for worker in self.workers:
            if not worker.alive() and worker.process.returncode != -signal.SIGKILL:
                raise AssertionError(
                    f"worker {worker.name} died:\n{worker.log.read_text()[-4000:]}"
                )
        return self.lag() == 0 and len(final_hours(self.hourly())) >= expected_hours

    def tickets(self) -> list[tuple[str, int, str, str, str]]:
        store = TicketStore(self.db_url)
        try:
            return sorted(
                (t.fingerprint, t.first_hour, t.region, t.metric, t.detector) for t in store.all()
            )
        finally:
            store.close()


def final_hours(aggregates: Iterable[HourlyAggregate]) -> dict[tuple[str, int], HourlyAggregate]:
    """The latest revision of each region-hour."""
    out: dict[tuple[str, int], HourlyAggregate] = {}
    for agg in aggregates:
        key = (agg.region, agg.hour)
        if key not in out or agg.revision >= out[key].revision:
            out[key] = agg
    return out


@dataclass
class Reference:
    """What the embedded runner makes of the same lines (hours closed by the data alone)."""

    hours: dict[tuple[str, int], HourlyAggregate]
    tickets: list[tuple[str, int, str, str, str]]


def embedded_reference(lines: list[bytes], tmp: Path) -> Reference:
    emitted: list[HourlyAggregate] = []
    run = build(load_config(), f"sqlite:///{tmp / 'reference.db'}")
    run.pipeline.observe(aggregate=emitted.append)
    run_lines(run, lines, finish=False)
    tickets = sorted(
        (t.fingerprint, t.first_hour, t.region, t.metric, t.detector) for t in run.tickets.all()
    )
    run.tickets.close()
    return Reference(final_hours(emitted), tickets)


def same_metrics(a: HourlyAggregate, b: HourlyAggregate) -> bool:
    ma, mb = a.metrics(), b.metrics()
    if ma.keys() != mb.keys():
        return False
    for key, va in ma.items():
        vb = mb[key]
        if math.isnan(va) and math.isnan(vb):
            continue
        if not math.isclose(va, vb, rel_tol=1e-9, abs_tol=1e-12):
            return False
    return True
