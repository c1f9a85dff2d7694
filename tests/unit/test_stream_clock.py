"""A replay's clock: its own events say how far the stream has come (monitor/windows)."""

from __future__ import annotations

import doctest

from hypothesis import given
from hypothesis import strategies as st

import monitor.windows.stream_clock
from monitor.windows.stream_clock import StreamClock

DAY = 24


def started(ahead: int = DAY, regions: tuple[str, ...] = ("a", "b", "c")) -> StreamClock[str]:
    """A clock started at time 100 by three events of each region."""
    clock: StreamClock[str] = StreamClock(ahead, vouching=3, regions=3)
    for name in regions:
        clock.offer(100, name, f"start-{name}")
    clock.settle()
    return clock


def test_the_docstring_example_runs():
    result = doctest.testmod(monitor.windows.stream_clock)
    assert result.attempted > 0 and result.failed == 0


def test_a_lone_time_far_ahead_is_held_and_refused_at_the_end():
    clock = started()
    assert clock.offer(100 + 40 * DAY, "a", "typo") == []
    assert clock.offer(101, "b", "next") == ["next"]
    assert clock.now == 101  # the typo moved nothing
    assert [held.item for held in clock.finish()] == ["typo"]


def test_events_after_a_gap_in_the_export_vouch_for_each_other():
    clock = started()
    gap = 100 + 30 * DAY
    taken = [clock.offer(gap + i, name, f"{name}{i}") for i, name in enumerate("abc")]
    assert taken == [[], [], ["a0", "b1", "c2"]]  # the third makes the jump, all go in order
    assert clock.now == gap + 2
    assert clock.offer(gap + 3, "a", "on") == ["on"] and not clock.finish()


def test_one_region_cannot_vouch_for_itself_when_the_stream_has_others():
    """A site whose clock runs a year ahead sends many events: they are all one region's,
    so they never move the clock of a stream of three; the hold stays bounded."""
    clock: StreamClock[str] = StreamClock(DAY, vouching=3, regions=3, max_held=5)
    for name in "abc":
        clock.offer(100, name, name)
    clock.settle()
    for i in range(8):
        assert clock.offer(100 + 365 * DAY + i, "a", f"bad{i}") == []
    assert clock.now == 100
    assert [held.item for held in clock.refused] == ["bad0", "bad1", "bad2"]  # longest held
    assert len(clock.held) == clock.held_count == 5


def test_a_stream_of_one_region_jumps_on_its_own_events():
    clock = started(regions=("a",))
    gap = 100 + 30 * DAY
    assert [clock.offer(gap + i, "a", str(i)) for i in range(3)] == [[], [], ["0", "1", "2"]]


def test_a_wrong_time_on_the_first_line_does_not_start_the_clock():
    clock: StreamClock[str] = StreamClock(DAY, vouching=3)
    taken = [clock.offer(t, "a", str(t)) for t in (100 + 40 * DAY, 100, 101)]
    assert taken == [[], [], ["100", "101"]]  # started at the median, 100
    assert [held.item for held in clock.finish()] == [str(100 + 40 * DAY)]


def test_the_stream_reaching_a_held_time_takes_it_in_order():
    """Taken a day before its time, an early event would move its region's watermark a
    day ahead of the region's other events (a day of them late)."""
    clock = started()
    assert clock.offer(100 + 2 * DAY, "a", "early") == []  # two days ahead: held
    assert clock.offer(100 + DAY, "b", "day") == ["day"]
    assert clock.offer(100 + 2 * DAY, "c", "then") == ["then", "early"]


def test_a_reload_of_the_bound_keeps_what_is_held():
    clock = started()
    clock.offer(100 + 3 * DAY, "a", "ahead")
    clock.reconfigure(7 * DAY)
    assert clock.offer(100 + 3 * DAY, "b", "x") == ["x", "ahead"]  # in range at once


@given(st.lists(st.integers(min_value=0, max_value=DAY), max_size=200))
def test_a_stream_that_never_steps_further_than_the_bound_is_taken_whole_and_in_order(steps):
    """Every step ahead within ``ahead``: nothing is held at the end or reordered."""
    clock: StreamClock[int] = StreamClock(DAY, vouching=3)
    taken: list[int] = []
    t = 1_000
    for i, step in enumerate(steps):
        t += step
        taken += clock.offer(t, "a", i)
    taken += clock.settle()
    assert not clock.finish() and not clock.refused
    assert taken == list(range(len(steps)))


def test_what_is_held_is_bounded_in_bytes_too():
    clock = started()
    for i in range(4):
        clock.offer(100 + 365 * DAY + i * 3 * DAY, "a", f"big{i}", size=40)
    clock.max_bytes = 100
    clock.offer(100 + 400 * DAY, "b", "more", size=40)
    assert [held.item for held in clock.refused] == ["big0", "big1", "big2"]
    assert clock.held_bytes == 80 and len(clock.held) == 2
