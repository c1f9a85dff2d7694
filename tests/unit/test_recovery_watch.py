"""A table recovery that reads nothing is read again, then gives up (``recovery_watch``)."""

from __future__ import annotations

import asyncio
from collections import Counter
from types import SimpleNamespace

from aiokafka import TopicPartition
from faust.types import TP

from monitor.runners.faust.recovery_watch import (
    MAX_KICKS,
    STUCK_SECONDS,
    Action,
    RecoveryStuck,
    RecoveryWatch,
    watch,
)


def test_a_recovery_that_reads_records_is_left_alone() -> None:
    watch = RecoveryWatch()
    left = 1_000
    for second in range(0, 600, 5):  # ten minutes, a few records read every check
        assert watch.check(float(second), True, left) is Action.WAIT
        left -= 1


def test_a_recovery_that_reads_nothing_is_read_again_then_given_up() -> None:
    watch = RecoveryWatch()
    assert watch.check(0.0, True, 5) is Action.WAIT  # began
    assert watch.check(STUCK_SECONDS - 1, True, 5) is Action.WAIT
    now = STUCK_SECONDS
    for _ in range(MAX_KICKS):
        assert watch.check(now, True, 5) is Action.READ_AGAIN
        assert watch.check(now + STUCK_SECONDS - 1, True, 5) is Action.WAIT  # given time
        now += STUCK_SECONDS
    assert watch.check(now, True, 5) is Action.GIVE_UP


def test_progress_after_a_read_again_starts_the_count_again() -> None:
    watch = RecoveryWatch()
    watch.check(0.0, True, 5)
    assert watch.check(STUCK_SECONDS, True, 5) is Action.READ_AGAIN
    assert watch.check(STUCK_SECONDS + 5, True, 3) is Action.WAIT  # the read again worked
    assert watch.kicks == 0
    assert watch.check(STUCK_SECONDS + 5 + STUCK_SECONDS, True, 3) is Action.READ_AGAIN


def test_the_end_of_a_recovery_forgets_it() -> None:
    watch = RecoveryWatch()
    watch.check(0.0, True, 5)
    watch.check(STUCK_SECONDS, True, 5)
    assert watch.check(STUCK_SECONDS + 1, False, 0) is Action.WAIT
    assert (watch.moved, watch.left, watch.kicks) == (None, None, 0)
    # the next rebalance's recovery gets its own time
    assert watch.check(1_000.0, True, 5) is Action.WAIT
    assert watch.check(1_000.0 + STUCK_SECONDS - 1, True, 5) is Action.WAIT


class _Consumer:
    """What the watch asks of Faust's consumer, recorded."""

    def __init__(self) -> None:
        self.flow_active = False
        self._paused_partitions: set[TP] = set()
        self.sought: list[dict[TP, int]] = []
        self.resumed: list[set[TP]] = []

    async def seek_wait(self, offsets: dict[TP, int]) -> None:
        self.sought.append(offsets)

    def resume_partitions(self, tps: set[TP]) -> None:
        assert all(type(tp) is TP for tp in tps)  # Faust's sets refuse aiokafka's type
        self.resumed.append(tps)

    def resume_flow(self) -> None:
        self.flow_active = True


def _app(left: int) -> SimpleNamespace:
    changelog = TopicPartition("x-windows-changelog", 3)  # the recovery's keys: aiokafka's
    recovery = SimpleNamespace(
        in_recovery=True,
        active_remaining=lambda: Counter({changelog: left}),
        active_offsets=Counter({changelog: 1}),  # the last offset read
    )
    started, crashed = [], []

    async def maybe_start() -> None:
        started.append(True)

    async def crash(error: BaseException) -> None:
        crashed.append(error)

    return SimpleNamespace(
        tables=SimpleNamespace(recovery=recovery),
        consumer=_Consumer(),
        _fetcher=SimpleNamespace(maybe_start=maybe_start),
        crash=crash,
        started=started,
        crashed=crashed,
    )


def test_a_stuck_recovery_is_sought_resumed_counted_then_ended() -> None:
    app, state, counted = _app(left=3), RecoveryWatch(), []
    assert asyncio.run(watch(app, state, 0.0, lambda: counted.append(1))) is Action.WAIT
    assert not app.consumer.sought
    now = STUCK_SECONDS
    assert asyncio.run(watch(app, state, now, lambda: counted.append(1))) is Action.READ_AGAIN
    tp = TP("x-windows-changelog", 3)
    assert app.consumer.sought == [{tp: 2}]  # from the next offset to read
    assert app.consumer.resumed == [{tp}] and app.consumer.flow_active and app.started
    assert counted == [1] and not app.crashed
    for _ in range(MAX_KICKS - 1):
        now += STUCK_SECONDS
        asyncio.run(watch(app, state, now, lambda: counted.append(1)))
    now += STUCK_SECONDS
    assert asyncio.run(watch(app, state, now, lambda: counted.append(1))) is Action.GIVE_UP
    [error] = app.crashed
    assert isinstance(error, RecoveryStuck) and "x-windows-changelog:3" in str(error)
    assert len(counted) == MAX_KICKS
