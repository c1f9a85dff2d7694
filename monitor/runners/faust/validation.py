"""The intake's check of a raw batch, on a process of its own.

Validation keeps no state: a batch, the config's vocabulary and time bounds, and the
events-topic partition count decide it. Run on the worker's pipeline thread it shared one
interpreter lock with the windows, the detectors and the event loop, and it was a quarter
of that thread's work on a catch-up (docs/benchmarks.md). ``check_batch`` is one pure
function, so a child process (``ValidationProcess``) runs it as it is; the pipeline's
thread then only counts what came back (``WorkerCore.accept``). Without the process (one
core, ``YUJING_INTAKE_PROCESS=0``, or after it died) the same function runs on that thread.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from multiprocessing import get_context

from alerts.taxonomy import Taxonomy
from monitor.events.deadletters import DeadLetter, Reason
from monitor.events.parsing import check_record
from monitor.runners.collector import tune_for_streaming
from monitor.runners.faust.bundles import Record, ValidEvent, encode_safely, partition_for
from monitor.windows.aggregation import WindowConfig, time_out_of_bounds

log = logging.getLogger("yujing.faust")
PARENT_CHECK_SECONDS = 1.0  # how soon an orphaned validation process notices and exits


@dataclass(frozen=True)
class IntakeRules:
    """What a batch's check depends on (picklable: it travels with each batch, so a
    reloaded config applies from the next batch on, in the process too)."""

    taxonomy: Taxonomy
    windows: WindowConfig
    partitions: int  # of the events topic
    kinds: Mapping[str, str]  # raw topic -> the kind of event it carries


@dataclass
class Checked:
    """A checked batch: how many records it had, their dead letters in order, and the
    valid ones encoded as bundles by events-topic partition."""

    received: int
    dead: list[DeadLetter] = field(default_factory=list)
    bundles: dict[int, list[bytes]] = field(default_factory=dict)


def kind_of(source: str, kinds: Mapping[str, str]) -> str | None:
    """The kind of event a raw record's ``source`` ("topic:partition") carries: its topic
    fixes it (None: a topic of no known kind, where the record's ``type`` decides)."""
    return kinds.get(source.rpartition(":")[0])


def check_batch(records: Sequence[Record], rules: IntakeRules, wall: int) -> Checked:
    """Parse and validate raw records; refuse times outside what the windows accept by the
    ``wall`` clock (before bundling: a time beyond 64 bits would not even fit); bundle the
    valid ones by the partition their region maps to. Region records are reference data,
    read by the worker from their own topic: skipped here."""
    out = Checked(received=len(records))
    grouped: dict[int, list[tuple[bytes, str, int, ValidEvent]]] = {}
    kinds: dict[str, str | None] = {}  # by source "topic:partition"
    for value, source, offset in records:
        kind = kinds.get(source, "")
        if kind == "":
            kind = kinds[source] = kind_of(source, rules.kinds)
        parsed = check_record(
            value, kind=kind, source=source, offset=offset, taxonomy=rules.taxonomy
        )
        if isinstance(parsed, DeadLetter):
            out.dead.append(parsed)
            continue
        if parsed.type == "region":  # (not isinstance: an ABC's, slow)
            continue
        event: ValidEvent = parsed  # type: ignore[assignment]
        bad = time_out_of_bounds(event, event.event_time, rules.windows, wall)
        if bad is not None:
            where, detail = bad
            out.dead.append(DeadLetter(Reason.BAD_TIME, detail, value, where, source, offset))
            continue
        grouped.setdefault(partition_for(event.region, rules.partitions), []).append(
            (value, source, offset, event)
        )
    for partition, items in grouped.items():
        out.bundles[partition], refused = encode_safely(items)
        for value, source, offset, _event in refused:
            detail = "its fields fit no bundle (MessagePack refused them)"
            out.dead.append(DeadLetter(Reason.UNREADABLE, detail, value, None, source, offset))
    return out


class ValidationProcess:
    """``check_batch`` on one child process. If the child dies (killed, out of memory),
    ``check`` answers None for that batch (the caller checks it itself) and a new child
    takes the next one: no batch is lost, the intake goes on."""

    def __init__(self) -> None:
        self._pool = self._start()

    @staticmethod
    def _start() -> ProcessPoolExecutor:
        # spawned, not forked: the worker has threads (aiokafka, the pipeline's) whose
        # locks a fork would copy mid-use
        pool = ProcessPoolExecutor(
            max_workers=1,
            mp_context=get_context("spawn"),
            initializer=_child_setup,
            initargs=(os.getpid(),),
        )
        pool.submit(int)  # start it now: its imports take a second or two
        return pool

    async def check(
        self, records: Sequence[Record], rules: IntakeRules, wall: int
    ) -> Checked | None:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, check_batch, records, rules, wall)
        except BrokenProcessPool as exc:
            log.warning(
                "validation process died; restarted (this batch is checked in the worker)",
                extra={"fields": {"error": str(exc)}},
            )
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = self._start()
            return None

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _child_setup(parent: int) -> None:
    """In the child: Ctrl-C is the worker's to handle (it closes the pool); the cycle
    collector set as the worker's; and an exit when the worker is gone (a SIGKILLed
    worker cannot close its pool, and the child would wait on its queue for ever)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_for_streaming()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_CHECK_SECONDS)
        os._exit(0)

    threading.Thread(target=watch, name="yujing-parent-watch", daemon=True).start()
