"""Intake: raw complaint and KPI topics -> dead letters, or bundles on the ``events`` topic.

The loop is ``intake_loop.pump``. With a second core it runs on a process of its own
(``intake_process``; ``YUJING_INTAKE_PROCESS``) and this task keeps its books and starts
it again if it dies; otherwise it runs here, checking batches on the pipeline thread and
sending through the app's topics.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from typing import Any

from monitor.events.deadletters import DeadLetter
from monitor.runners.faust.bundles import BUNDLE_HEADER
from monitor.runners.faust.intake_loop import dead_letter_headers, intake_consumer, pump
from monitor.runners.faust.intake_process import IntakeProcess
from monitor.runners.faust.topology import Topology

log = logging.getLogger("yujing.faust")
RESTART_SECONDS = 0.5  # before a new intake process (doubled while they fail at once)
MAX_RESTART_SECONDS = 30.0


async def send_dead(t: Topology, letter: DeadLetter) -> Awaitable[Any]:
    """Sent (buffered); the returned awaitable resolves when the broker has it."""
    return await t.deadletters.send(value=letter.raw, headers=dead_letter_headers(letter))


class TopicOutlet:
    """Bundles and dead letters sent through the app's topics (the in-process intake)."""

    def __init__(self, t: Topology) -> None:
        self.t = t

    async def dead(self, letter: DeadLetter) -> Awaitable[Any]:
        return await send_dead(self.t, letter)

    async def bundle(self, partition: int, bundle: bytes) -> Awaitable[Any]:
        return await self.t.events.send(value=bundle, partition=partition, headers=[BUNDLE_HEADER])


def register(t: Topology) -> None:
    settings = t.settings

    @t.app.task
    async def intake() -> None:
        """Raw topics -> dead letters, or one bundle per events-topic partition and batch."""
        if settings.intake_process:
            await supervise(t)
            return
        consumer = intake_consumer(settings, t.raw_topics)
        await consumer.start()
        try:
            await pump(consumer, settings, t.core.check, TopicOutlet(t), t.intake_lag)
        finally:
            await consumer.stop()


def set_lag(t: Topology, lag: dict[str, int]) -> None:
    t.intake_lag.clear()
    t.intake_lag.update(lag)


async def supervise(t: Topology) -> None:
    """The intake's process: its reports into this worker's counters and lag, the config's
    rules to it, and a new one when it dies."""
    core, child = t.core, IntakeProcess(t.settings, t.raw_topics)
    pause = RESTART_SECONDS
    try:
        while True:
            started = time.monotonic()
            child.start(core.intake_rules())
            log.info("intake process started", extra={"fields": {"pid": child.process.pid}})
            async for tally in child.reports():
                child.send_rules(core.intake_rules())
                # a lag at once: the aggregation asks it whether its hours may wait (a
                # catch-up); a lag of zero only once the records before it are counted
                behind = any(tally.lag.values())
                if behind:
                    set_lag(t, tally.lag)
                if tally.received or tally.dead:
                    await core.off_loop(core.count_intake, tally.received, tally.dead)
                if not behind:
                    set_lag(t, tally.lag)
            # one that failed soon after its start (a broker refusing it) waits longer
            # each time, up to MAX_RESTART_SECONDS; one that ran a while, a moment
            short = time.monotonic() - started < MAX_RESTART_SECONDS
            pause = min(2 * pause, MAX_RESTART_SECONDS) if short else RESTART_SECONDS
            log.warning(
                "intake process exited; starting another",
                extra={"fields": {"exitcode": child.exitcode, "in_seconds": pause}},
            )
            await asyncio.sleep(pause)
    finally:
        await asyncio.get_running_loop().run_in_executor(None, child.stop)
