"""A table recovery that reads nothing is read again, then gives up (``recovery_watch``)."""

from __future__ import annotations

from monitor.runners.faust.recovery_watch import MAX_KICKS, STUCK_SECONDS, Action, RecoveryWatch


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
