"""Timers and signal handling: hot reload, the outbox and SLA clocks, consumer lag."""

from __future__ import annotations

import asyncio
import signal
import time

from monitor.runners.faust.snapshots import SNAPSHOT_SECONDS, save
from monitor.runners.faust.topology import Topology

HEARTBEAT_SECONDS = 0.25


def register(t: Topology) -> None:
    app, core = t.app, t.core
    inputs = {t.settings.topics.name("events")}
    last_beat: list[float] = []

    @app.timer(interval=HEARTBEAT_SECONDS)
    async def heartbeat() -> None:
        """How late timers fire: a catch-up that held the event loop shows here (#17)."""
        now = time.monotonic()
        if last_beat:
            late = max(now - last_beat[0] - HEARTBEAT_SECONDS, 0.0)
            core.metrics.timer_lateness.observe(late)
        last_beat[:] = [now]

    @app.timer(interval=1.0)
    async def watch_config() -> None:
        """Hot reload without waiting for data: file changes and SIGHUP (when the pipeline
        is busy, its next batch checks anyway)."""
        if not core.queued:
            await core.off_loop(core.reload_if_changed)

    @app.timer(interval=SNAPSHOT_SECONDS / 2)
    async def save_windows() -> None:
        """A snapshot when the events stopped coming: no event waits for the next batch
        to be acked."""
        unsaved = t.unsaved
        if unsaved.due() and not unsaved.lock.locked():
            async with unsaved.lock:
                if unsaved.due():
                    await save(t)

    @app.timer(interval=1.0)
    async def deliver_notifications() -> None:
        """The outbox and SLA escalation, in a thread: an endpoint's timeout never stalls
        the agents."""
        await asyncio.get_running_loop().run_in_executor(None, core.housekeeping.step)

    @app.task
    async def on_sighup() -> None:
        if core.watcher is not None:
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, core.watcher.request)

    @app.timer(interval=5.0)
    async def measure_lag() -> None:
        """Consumer lag per input topic: high-water mark minus the next offset to process."""
        consumer = app.consumer
        read = getattr(consumer, "_read_offset", {})
        lag: dict[str, int] = dict.fromkeys([*t.raw_topics, *inputs], 0)
        for key, value in t.intake_lag.items():
            topic = key.rpartition(":")[0]
            lag[topic] = lag.get(topic, 0) + value
        for tp in consumer.assignment():
            if tp.topic not in inputs:  # changelogs are read by table recovery, not agents
                continue
            high = consumer.highwater(tp)
            last = read.get(tp)
            if high is not None:
                done = last + 1 if last is not None else 0
                lag[tp.topic] = lag.get(tp.topic, 0) + max(high - done, 0)
        for topic, value in lag.items():
            core.metrics.consumer_lag.labels(topic).set(value)
