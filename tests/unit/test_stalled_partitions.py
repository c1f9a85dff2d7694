"""When an ``events`` partition is read again: records wait on the broker past what the
aggregation took, and none came for a while (``monitor.runners.faust.stall``). The whole
path runs in the SIGKILL test on a real broker, where the stall came about one run in
four; here, the decision."""

from types import SimpleNamespace

from monitor.runners.faust.stall import STALL_SECONDS, Taken, stalled


def record(partition: int, offset: int) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(partition=partition, offset=offset))


def test_a_partition_whose_records_stopped_coming_is_read_from_the_first_not_taken():
    taken = Taken()
    taken.assigned([0, 1, 2, 3], now=0.0)
    taken.note([record(0, 0), record(0, 1), record(2, 0), record(2, 1), record(2, 2)], now=5.0)
    ends = {0: 2, 1: 0, 2: 21, 3: 27}  # the next offsets the broker will write
    committed = {0: None, 1: None, 2: None, 3: 15}
    # not yet: records may still be on their way
    assert stalled(taken, ends, committed, now=STALL_SECONDS - 1) == {}
    # partition 0 was read to its end; 1 is empty; 2 stopped after offset 2; 3 never
    # came since the assignment: from the group's committed offset
    assert stalled(taken, ends, committed, now=5.0 + STALL_SECONDS) == {2: 3, 3: 15}
    # never taken nor committed: from the partition's start
    assert stalled(taken, ends, {}, now=100.0) == {2: 3, 3: 0}


def test_records_that_keep_coming_are_no_stall_and_a_rebalance_starts_a_new_wait():
    taken = Taken()
    taken.assigned([0], now=0.0)
    for second in range(0, 100, 10):  # a busy partition, far behind its end
        taken.note([record(0, second)], now=float(second))
        assert stalled(taken, {0: 10_000}, {}, now=float(second) + 5) == {}
    taken.assigned([0, 1], now=200.0)  # another owner may have taken more meanwhile
    assert taken.offsets == {}
    assert stalled(taken, {0: 10_000, 1: 5}, {0: 9_000}, now=200.0 + STALL_SECONDS - 1) == {}
    assert stalled(taken, {0: 10_000, 1: 5}, {0: 9_000}, now=200.0 + STALL_SECONDS) == {
        0: 9_000,
        1: 0,
    }
    # an end offset the broker did not give is no evidence
    assert stalled(taken, {0: None}, {}, now=1_000.0) == {}


def test_records_that_waited_out_a_long_round_are_no_stall():
    """A catch-up round judging hundreds of hours holds the agent for a minute while the
    next records wait: a check right after it is no evidence."""
    taken = Taken()
    taken.assigned([0], now=0.0)
    taken.note([record(0, 0)], now=1.0)
    taken.done(now=61.0)  # the round took a minute
    assert stalled(taken, {0: 500}, {}, now=62.0) == {}
    assert stalled(taken, {0: 500}, {}, now=61.0 + STALL_SECONDS) == {0: 1}
