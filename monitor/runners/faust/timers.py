"""Timers and signal handling: hot reload, the outbox and SLA clocks, consumer lag, the
hours of silent regions, stalled partitions and a table recovery that reads nothing."""

from __future__ import annotations

import asyncio
import logging
import signal
import time

from monitor.runners.faust.aggregate import (
    STALL,
    deliver,
    events_partitions,
    follow_assignment,
    guarded,
    owned_partitions,
    read_again,
)
from monitor.runners.faust.recovery_watch import RECOVERY_CHECK_SECONDS, RecoveryWatch, watch
from monitor.runners.faust.snapshots import SNAPSHOT_SECONDS, save
from monitor.runners.faust.stall import CHECK_SECONDS, stalled
from monitor.runners.faust.topology import Topology

log = logging.getLogger("yujing.faust")
HEARTBEAT_SECONDS = 0.25
# how often regions silent on every input are looked for (a few ms for thousands of
# regions; ``windows.idle_input_seconds``, 300 by default, is what makes one silent)
SILENT_CHECK_SECONDS = 10.0


def register(t: Topology) -> None:
    app, core = t.app, t.core
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
        if unsaved.due() and not unsaved.lock.locked() and not t.failures.waiting():
            async with unsaved.lock:
                if unsaved.due():
                    await guarded(t, save(t))

    @app.timer(interval=SILENT_CHECK_SECONDS)
    async def close_silent_regions() -> None:
        """A region silent on every input gets no event to close its hours: they are
        closed as far as the stream has come and judged, so the dashboards and the rules
        see the silence (``HourlyAggregator.close_silent``)."""
        unsaved = t.unsaved
        if unsaved.lock.locked() or t.failures.waiting():  # a round runs, or one failed
            return
        async with unsaved.lock:
            await guarded(t, close_silent(t))

    @app.timer(interval=CHECK_SECONDS)
    async def reread_stalled() -> None:
        """Records on the broker past what the agent took, and none came for a while:
        the partition is read again from there (``stall``)."""
        unsaved = t.unsaved
        if unsaved.lock.locked() or t.app.rebalancing:  # a round runs, or owners change
            return
        async with unsaved.lock:
            await reread(t)

    recovery = RecoveryWatch()

    @app.timer(interval=RECOVERY_CHECK_SECONDS)
    async def watch_table_recovery() -> None:
        """A table recovery that reads nothing is read again, then ends the worker
        (``recovery_watch``): Faust would only warn, and the worker take no event."""
        await watch(app, recovery, time.monotonic(), core.metrics.recovery_rereads.inc)

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
        lag = t.lag()
        for topic, value in lag.items():
            core.metrics.consumer_lag.labels(topic).set(value)


async def reread(t: Topology) -> None:
    """Seek each stalled ``events`` partition back to the first offset the agent has not
    taken (hold ``t.unsaved.lock``: no round is between taking and noting a batch)."""
    consumer = t.app.consumer
    owned = events_partitions(t)
    if not owned or set(owned) != t.core.assigned:  # the agent has not followed yet
        return
    highwaters = await consumer.highwaters(*owned.values())
    ends = {p: highwaters.get(tp) for p, tp in owned.items()}
    await read_again(t, stalled(t.taken, ends, time.monotonic()), STALL, ends=ends)


async def close_silent(t: Topology) -> None:
    """Close the hours of regions silent on every input (hold ``t.unsaved.lock``)."""
    core = t.core
    # the agent follows a rebalance on its next batch, but a worker that gets none (its
    # kept partitions all read) would keep the moved regions' windows and per-region
    # series: exported beside their new owner's
    if owned_partitions(t) != core.assigned and not await follow_assignment(t):
        return  # its tables are not recovered yet: the next check
    owned = core.assigned
    result = await core.off_loop(core.close_silent)
    if result.aggregates:
        await deliver(t, result)
        await save(t, owned)  # no event may come to save their state
        regions = sorted({a.region for a in result.aggregates})
        log.info(
            "hours of silent regions closed",
            extra={
                "fields": {
                    "hours": len(result.aggregates),
                    "regions": len(regions),
                    "first_regions": regions[:10],
                }
            },
        )
