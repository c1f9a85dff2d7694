"""What the aggregation takes of an ``events`` partition, and when it is read again
(``monitor.runners.faust.stall``): in order from where its reading began, nothing lost.
The whole path runs in the SIGKILL tests on a real broker, where Faust dropped records
about one run in four; here, the decisions."""

from types import SimpleNamespace

from monitor.runners.faust.stall import MAX_TRIES, STALL_SECONDS, Taken, stalled


def record(partition: int, offset: int) -> SimpleNamespace:
    return SimpleNamespace(message=SimpleNamespace(partition=partition, offset=offset))


def offsets(events: list) -> list[tuple[int, int]]:
    return [(e.message.partition, e.message.offset) for e in events]


def test_a_partition_whose_records_stopped_coming_is_read_from_the_first_not_taken():
    taken = Taken()
    taken.assigned([0, 1, 2, 3], {0: 0, 1: 0, 2: 0, 3: 15}, now=0.0)
    taken.admit([record(0, 0), record(0, 1), record(2, 0), record(2, 1), record(2, 2)], now=5.0)
    ends = {0: 2, 1: 0, 2: 21, 3: 27}  # the next offsets the broker will write
    # not yet: records may still be on their way
    assert stalled(taken, ends, now=STALL_SECONDS - 1) == {}
    # partition 0 was read to its end; 1 is empty; 2 stopped after offset 2; 3 never
    # came since the assignment: from where its reading began (its committed offset)
    assert stalled(taken, ends, now=5.0 + STALL_SECONDS) == {2: 3, 3: 15}


def test_records_that_keep_coming_are_no_stall_and_a_rebalance_starts_a_new_wait():
    taken = Taken()
    taken.assigned([0], {0: 0}, now=0.0)
    for second in range(0, 100, 10):  # a busy partition, far behind its end
        taken.admit([record(0, second // 10)], now=float(second))
        assert stalled(taken, {0: 10_000}, now=float(second) + 5) == {}
    taken.assigned([0, 1], {0: 9_000, 1: 0}, now=200.0)  # another owner took more since
    assert taken.expected == {0: 9_000, 1: 0}  # what was taken before is forgotten
    assert stalled(taken, {0: 10_000, 1: 5}, now=200.0 + STALL_SECONDS - 1) == {}
    assert stalled(taken, {0: 10_000, 1: 5}, now=200.0 + STALL_SECONDS) == {0: 9_000, 1: 0}
    # an end offset the broker did not give is no evidence
    assert stalled(taken, {0: None}, now=1_000.0) == {}


def test_records_that_waited_out_a_long_round_are_no_stall():
    """A catch-up round judging hundreds of hours holds the agent for a minute while the
    next records wait: a check right after it is no evidence."""
    taken = Taken()
    taken.assigned([0], {0: 0}, now=0.0)
    taken.admit([record(0, 0)], now=1.0)
    taken.done(now=61.0)  # the round took a minute
    assert stalled(taken, {0: 500}, now=62.0) == {}
    assert stalled(taken, {0: 500}, now=61.0 + STALL_SECONDS) == {0: 1}


def test_records_after_lost_ones_wait_until_the_lost_ones_are_read_again():
    """Faust cleared its queues as the recovery ended: of offsets 0-26 the agent got
    16-26. Applied, they would have made the windows skip 0-15 for good."""
    taken = Taken()
    taken.assigned([0, 1], {0: 0, 1: 40}, now=0.0)
    # right after an assignment, records past where a reading began are from before it
    kept, holes = taken.admit([record(1, 40), record(0, 16), record(0, 17), record(1, 41)])
    assert offsets(kept) == [(1, 40), (1, 41)] and holes == {}
    taken.read_again(0, 0, now=1.0)  # (the agent reads an uncommitted partition's start)
    kept, holes = taken.admit([record(0, 18), *(record(0, n) for n in range(27))], now=2.0)
    assert offsets(kept) == [(0, n) for n in range(27)] and holes == {}
    # later, a record past the next one expected is a hole; a redelivery below is
    # applied (the windows skip it)
    kept, holes = taken.admit([record(0, 5), record(0, 27), record(0, 29), record(0, 30)])
    assert offsets(kept) == [(0, 5), (0, 27)] and holes == {0: 28}
    taken.read_again(0, 28, now=3.0)
    assert taken.admit([record(0, 31)], now=4.0) == ([], {})  # in flight: no second seek
    kept, holes = taken.admit([record(0, 28), record(0, 29)], now=5.0)
    assert offsets(kept) == [(0, 28), (0, 29)] and holes == {}


def test_a_partition_read_again_where_nothing_comes_is_read_again_without_rounds_hiding_it():
    taken = Taken()
    taken.assigned([0], {0: 0}, now=0.0)
    taken.admit([record(0, 0)], now=0.0)
    assert taken.admit([record(0, 5)], now=1.0)[1] == {0: 1}
    taken.read_again(0, 1, now=1.0)
    for second in range(2, 40):  # rounds of records past the seek, none of them 1
        taken.admit([record(0, 5 + second)], now=float(second))
        taken.done(now=float(second))
    assert stalled(taken, {0: 100}, now=1.0 + STALL_SECONDS) == {0: 1}


def test_offsets_that_never_come_are_skipped_after_a_few_reads_not_read_for_ever():
    """A transaction marker takes an offset no record has: read again from it, the
    partition would loop."""
    taken = Taken()
    taken.assigned([0], {0: 0}, now=0.0)
    taken.admit([record(0, 0), record(0, 1)])
    assert taken.admit([record(0, 3)])[1] == {0: 2}
    for attempt in range(MAX_TRIES):
        taken.read_again(0, 2)
        kept, holes = taken.admit([record(0, 3), record(0, 4)])
        if attempt < MAX_TRIES - 1:
            assert kept == [] and holes == {}
    assert offsets(kept) == [(0, 3), (0, 4)]
    assert taken.take_skipped() == [(0, 2, 2)] and taken.take_skipped() == []
