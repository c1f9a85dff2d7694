"""Embedded runner: the whole pipeline in one process over JSONL input (demo, backtest, tests).

It owns the I/O the core refuses to do: reading files, and wiring the ticket database,
dead-letter file and notification sinks to the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from alerts.notify.outbox import Dispatcher
from alerts.policy.notifiers import FanOut, JsonlNotifier, LogNotifier, Notifier
from alerts.policy.service import AlertService
from alerts.tickets.store import TicketStore
from monitor.config.model import MonitorConfig
from monitor.config.reload import ConfigWatcher
from monitor.detection.hourly_file import HourlySeries
from monitor.events.deadletters import (
    DeadLetterSink,
    JsonlDeadLetters,
    MemoryDeadLetters,
    TeeDeadLetters,
)
from monitor.events.parsing import TooLarge
from monitor.observability.metrics import WorkerMetrics
from monitor.pipeline import Pipeline
from monitor.runners.file_order import FileOrder, scan

KEPT_DEAD_LETTERS = 1000


@dataclass
class EmbeddedRun:
    """A pipeline wired to files and a ticket database, and what its run measured."""

    pipeline: Pipeline
    tickets: TicketStore
    dead_letters: MemoryDeadLetters
    seconds: float = 0.0
    metrics: WorkerMetrics | None = None


def build(
    config: MonitorConfig,
    db_url: str,
    out_dir: Path | None = None,
    notifier: Notifier | None = None,
    config_path: Path | None = None,
    metrics: bool = False,
    scan_hours: int = 24,
) -> EmbeddedRun:
    """Wire a pipeline: tickets in ``db_url``; dead letters and notifications under out_dir.

    With ``config_path`` the config is watched and hot-reloaded between evaluations.
    """
    store = TicketStore(db_url)
    memory = MemoryDeadLetters(keep=KEPT_DEAD_LETTERS)  # the file sink gets every one
    sink: DeadLetterSink = memory
    sinks: list[Notifier] = [LogNotifier()]
    if out_dir is not None:
        sink = TeeDeadLetters(memory, JsonlDeadLetters(out_dir / "deadletters.jsonl"))
        sinks.append(JsonlNotifier(out_dir / "notifications.jsonl"))
    if notifier is not None:
        sinks.append(notifier)
    dispatcher = (
        Dispatcher.for_settings(store.engine, config.notifications)
        if config.notifications.channels
        else None
    )
    alerts = AlertService(
        store=store,
        notifier=FanOut(*sinks),
        settings=config.alerts,
        notifications=config.notifications,
        dispatcher=dispatcher,
    )
    watcher = ConfigWatcher(config_path, config) if config_path is not None else None
    pipeline = Pipeline(
        config, alerts, sink, watcher=watcher, batch_ticks=True, scan_hours=scan_hours
    )
    observed = WorkerMetrics(pipeline, store, watcher) if metrics else None
    return EmbeddedRun(pipeline=pipeline, tickets=store, dead_letters=memory, metrics=observed)


def run_lines(
    run: EmbeddedRun,
    lines: Iterable[bytes],
    source: str = "",
    progress: Callable[[int], None] | None = None,
    every: int = 20_000,
    finish: bool = True,
) -> EmbeddedRun:
    """Feed every line, then close the remaining hours (a replay has a known end).

    ``finish=False`` leaves open what the data has not closed, as a stream would.
    """
    return run_numbered(run, enumerate(lines, start=1), source, progress, every, finish)


def run_numbered(
    run: EmbeddedRun,
    numbered: Iterable[tuple[int, bytes | TooLarge]],
    source: str = "",
    progress: Callable[[int], None] | None = None,
    every: int = 20_000,
    finish: bool = True,
) -> EmbeddedRun:
    """``run_lines`` of (line number, line) pairs: a file replayed out of its line order
    (``file_order``) still names each line in its dead letter."""
    started = time.perf_counter()
    feed = run.pipeline.feed
    n = 0
    for n, (number, line) in enumerate(numbered, start=1):
        feed(line.rstrip(b"\r\n") if type(line) is bytes else line, source=source, offset=number)
        if progress is not None and n % every == 0:
            progress(every)
    if finish:
        run.pipeline.finish()
        if run.pipeline.alerts.dispatcher is not None:
            run.pipeline.alerts.dispatcher.drain()  # a replay ends: hand over what is due
    else:
        run.pipeline.settle()  # the input pauses: the stream's clock starts if it has not
        run.pipeline.advance()  # emit what the watermarks closed; leave the rest open
        run.pipeline.flush_ticks()
    if progress is not None:
        progress(n % every)
    if run.metrics is not None:
        run.metrics.consumer_lag.labels(source or "input").set(0)  # all of it was read
        run.metrics.refresh()
    run.seconds += time.perf_counter() - started
    return run


def run_series(run: EmbeddedRun, series: HourlySeries) -> EmbeddedRun:
    """Judge hourly data (a backtest over months: no raw events to re-aggregate)."""
    started = time.perf_counter()
    run.pipeline.replay_series(series)
    if run.pipeline.alerts.dispatcher is not None:
        run.pipeline.alerts.dispatcher.drain()
    if run.metrics is not None:
        run.metrics.refresh()
    run.seconds += time.perf_counter() - started
    return run


def run_file(
    run: EmbeddedRun,
    path: Path,
    progress: Callable[[int], None] | None = None,
    order: FileOrder | None = None,
) -> EmbeddedRun:
    """Replay a file: in line order, or in event-time order when its lines are far from
    it (``order``: from ``file_order.scan``, done here when not given)."""
    order = order if order is not None else scan(path)
    if order.lines is not None:  # a file, read in time order (a pipe: as it comes)
        run.pipeline.follow_stream_clock()
    return run_numbered(run, order.numbered(), source=path.name, progress=progress)
