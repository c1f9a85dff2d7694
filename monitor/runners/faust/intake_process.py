"""The intake on a process of its own: fetch raw records, check them, send, commit.

The worker's process runs Faust's event loop, the windows and the detectors under one
interpreter lock. The intake's share of that lock (fetching raw records, handing them to
the check, producing bundles and dead letters) held the aggregation back: fed bundles
already in Kafka, the aggregation alone took 55k samples/s where the whole worker took
21k, with the machine's second core 40% idle (docs/benchmarks.md, eighth session).

The child runs the very loop of the in-process intake (``intake_loop.pump``) with the
same check (``validation.check_batch``), a consumer in the intake's group and a producer
of its own. The worker keeps the books: between batches the child reports what it read,
why it refused what it did (it sends those dead letters itself) and its partitions' lag;
the worker answers with the rules of the config in force when they change. A child that
dies is started again by the worker: what it had not committed is read again (at least
once; the aggregation skips what its state applied). A child whose worker is gone (a
SIGKILLed one) exits by itself within ``PARENT_CHECK_SECONDS``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import logging.config
import os
import signal
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from multiprocessing import get_context
from multiprocessing.connection import Connection
from typing import Any

from aiokafka import AIOKafkaProducer

from monitor.events.deadletters import DeadLetter
from monitor.observability.logs import logging_config
from monitor.runners.collector import tune_for_streaming
from monitor.runners.faust.bundles import BUNDLE_HEADER, Record
from monitor.runners.faust.intake_loop import dead_letter_headers, intake_consumer, pump
from monitor.runners.faust.settings import WorkerSettings
from monitor.runners.faust.validation import Checked, IntakeRules, check_batch

log = logging.getLogger("yujing.faust")
PARENT_CHECK_SECONDS = 1.0  # how soon an orphaned intake process notices and exits
STOP = "stop"  # the worker's word for: commit what was sent, and exit
STOP_SECONDS = 15.0  # how long a stop may take before the child is terminated


@dataclass
class Tally:
    """What the child did since its last report: records read, the dead letters it sent
    by reason, and the lag of the raw partitions it owns now (a few hundred bytes: one
    write to the pipe, however many records a batch refused)."""

    received: int = 0
    dead: Counter[str] = field(default_factory=Counter)
    lag: dict[str, int] = field(default_factory=dict)
    rules: int = 0  # rule changes taken so far: from the next batch on, the newest holds


class IntakeProcess:
    """The worker's handle on its intake's process."""

    def __init__(self, settings: WorkerSettings, topics: Sequence[str]) -> None:
        self.settings = settings
        self.topics = list(topics)
        self.rules: IntakeRules | None = None
        self.process: Any = None
        self._conn: Connection | None = None

    @property
    def exitcode(self) -> int | None:
        return None if self.process is None else self.process.exitcode

    def start(self, rules: IntakeRules) -> None:
        # spawned, not forked: the worker has threads (aiokafka's, the pipeline's) whose
        # locks a fork would copy mid-use
        context = get_context("spawn")
        if self._conn is not None:  # the end of the pipe to a child that died
            self._conn.close()
        self._conn, theirs = context.Pipe()
        self.process = context.Process(
            target=run_child,
            args=(self.settings, self.topics, rules, theirs, os.getpid()),
            name="yujing-intake",
            daemon=True,  # a worker that exits normally takes it along
        )
        self.process.start()
        theirs.close()
        self.rules = rules

    def send_rules(self, rules: IntakeRules) -> None:
        """The config's rules, when they changed (they apply from the child's next batch)."""
        if rules != self.rules and self._conn is not None:
            # a child that just died: its reports end, and the next child starts with these
            with contextlib.suppress(OSError):
                self._conn.send(rules)
            self.rules = rules

    async def reports(self) -> AsyncIterator[Tally]:
        """The child's reports, until it exits."""
        assert self._conn is not None
        conn, loop = self._conn, asyncio.get_running_loop()
        queue: asyncio.Queue[Tally | None] = asyncio.Queue()

        def readable() -> None:
            try:
                queue.put_nowait(conn.recv())
            except (EOFError, OSError):  # the child's end is closed: it exited
                loop.remove_reader(conn.fileno())
                queue.put_nowait(None)

        loop.add_reader(conn.fileno(), readable)
        try:
            while (tally := await queue.get()) is not None:
                yield tally
        finally:
            loop.remove_reader(conn.fileno())

    def stop(self) -> None:
        """Ask the child to commit what it sent and exit; terminate it if it does not
        (blocking: call it off the event loop)."""
        if self.process is None:
            return
        if self._conn is not None:
            with contextlib.suppress(OSError):  # already gone
                self._conn.send(STOP)
        self.process.join(STOP_SECONDS)
        if self.process.is_alive():
            log.warning("intake process did not stop; terminated")
            self.process.terminate()
            self.process.join(STOP_SECONDS)
        if self._conn is not None:
            self._conn.close()
            self._conn = None


def run_child(
    settings: WorkerSettings,
    topics: list[str],
    rules: IntakeRules,
    conn: Connection,
    parent: int,
) -> None:
    """The child's life: set up as a stream process, then the intake until told to stop."""
    child_setup(parent)
    logging.config.dictConfig(logging_config(settings.log_level.upper()))
    asyncio.run(_intake(settings, topics, rules, conn))


def child_setup(parent: int) -> None:
    """Ctrl-C is the worker's to handle (it stops the child); the cycle collector set as
    the worker's; and an exit when the worker is gone (a SIGKILLed worker cannot stop
    its child, which would otherwise go on reading for ever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_for_streaming()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="yujing-parent-watch", daemon=True).start()


class ProducerOutlet:
    """Bundles and dead letters sent by the child's own producer."""

    def __init__(self, producer: AIOKafkaProducer, settings: WorkerSettings) -> None:
        self.producer = producer
        self.events = settings.topics.name("events")
        self.deadletters = settings.topics.name("deadletters")

    async def dead(self, letter: DeadLetter) -> Any:
        return await self.producer.send(
            self.deadletters, letter.raw, headers=dead_letter_headers(letter)
        )

    async def bundle(self, partition: int, bundle: bytes) -> Any:
        return await self.producer.send(
            self.events, bundle, partition=partition, headers=[BUNDLE_HEADER]
        )


async def _intake(
    settings: WorkerSettings, topics: list[str], rules: IntakeRules, conn: Connection
) -> None:
    current, tally, stopping = [rules], Tally(), [False]

    async def check(records: Sequence[Record]) -> Checked:
        # the wall clock in epoch ms, as the worker's ``wall_ms`` (whose module would
        # bring the ticket store's imports into this process)
        checked = check_batch(records, current[0], int(time.time() * 1000))
        tally.received += checked.received
        tally.dead.update(checked.reasons())
        return checked

    def between() -> bool:
        """Take the worker's rules, report to it; False once it said stop (or is gone)."""
        try:
            while conn.poll():
                message = conn.recv()
                if message == STOP:
                    stopping[0] = True
                else:
                    current[0] = message
                    tally.rules += 1
            conn.send(Tally(tally.received, tally.dead, dict(tally.lag), tally.rules))
            tally.received, tally.dead = 0, Counter()
        except (EOFError, OSError):
            stopping[0] = True
        return not stopping[0]

    producer = AIOKafkaProducer(
        bootstrap_servers=settings.bootstrap,
        client_id=f"{settings.app_id}-intake",
        acks="all",
        max_batch_size=512 * 1024,  # as the worker's producer (runners/faust/app.py)
        **settings.security.aiokafka(),
    )
    consumer = intake_consumer(settings, topics)
    await producer.start()
    try:
        await consumer.start()
        try:
            outlet = ProducerOutlet(producer, settings)
            await pump(consumer, settings, check, outlet, tally.lag, between)
        finally:
            await consumer.stop()
    finally:
        await producer.stop()
