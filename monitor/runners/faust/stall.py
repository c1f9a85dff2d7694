"""What the aggregation takes of each ``events`` partition: in order, with nothing lost.

Faust can drop records it fetched for a stream. When a rebalance's table recovery ends, it
seeks the stream partitions to their committed offsets, then resumes its flow control,
which clears every stream queue (``mode.utils.queues.FlowControlEvent.resume``): records
fetched after the partitions were resumed (the seek's request takes a broker round trip)
are thrown away, and only the seek to a committed offset reads them again. A partition
with no committed offset above 0 (its first owner died before its first commit) is not
sought: those records never reached the agent. The Kafka test
``test_a_worker_killed_before_its_first_commit_is_taken_over_whole`` makes it happen:
instrumented, the new owner fetched every record of three partitions (offsets 0-17,
0-19, 0-26) and its consumer yielded them all; the clearing resume came when 0-15 of each
had been yielded, and the hours came out short with no stall: the agent had taken the
records after the lost ones.

So the agent takes nothing while a rebalance runs (the clear comes at its end), then seeks
each partition without a committed offset to the log's start itself, and guards two
shapes of loss:

* a hole: records after the lost ones came. Applied, they would lose the others for good
  (the windows skip a record at or below an offset they applied), so ``Taken.admit``
  takes a partition's records in order from where its reading began (the committed
  offset, else the log's start): a record past the next one expected is not applied, and
  the partition is read again from the one expected.
* a tail: nothing came after them. The worker waited for good, with lag on the group and
  no warning (2 of 19 runs of the SIGKILL test, before these guards). ``stalled`` reads a
  partition again when the broker holds records past what the agent took, the agent is
  idle between rounds, and none came for ``STALL_SECONDS``. A long round (a catch-up
  judging hundreds of hours) holds the round lock: no check runs meanwhile.

A record read twice is counted once: the windows skip what their state already applied.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

STALL_SECONDS = 30.0  # records waiting this long with none taken: read the partition again
CHECK_SECONDS = 10.0
# a partition read again this many times from an offset that never came: the offsets
# before the next record are not in the log (a producer's transaction markers: the topic
# is Yujing's own, but it must not loop), and are skipped with an error
MAX_TRIES = 3


@dataclass
class Taken:
    """Per owned ``events`` partition: the next offset the agent is to take (it takes them
    in order), and when a record of it (or its assignment) last came."""

    # from where each partition's reading began (the committed offset, else the log's
    # start), one past the last record taken in order
    expected: dict[int, int] = field(default_factory=dict)
    since: dict[int, float] = field(default_factory=dict)
    # when the agent last finished a round: records wait during a long one, and a check
    # that ran right after it must not take that for a stall
    rested: float = 0.0
    # partitions read again from an offset: records past it still in flight are not taken
    sought: dict[int, int] = field(default_factory=dict)
    # how often in a row each was read again from that offset
    tries: dict[int, int] = field(default_factory=dict)
    # offsets given up on (partition, first, last): see ``MAX_TRIES``
    skipped: list[tuple[int, int, int]] = field(default_factory=list)

    def admit(
        self, batch: Iterable[Any], now: float | None = None
    ) -> tuple[list[Any], dict[int, int]]:
        """The records of one round to apply (Faust events: ``.message.partition`` and
        ``.offset``), and the partitions to read again, each from the offset expected:
        a record past it means the ones between never reached the agent. A record before
        it is a redelivery (applied: the windows skip it)."""
        now = time.monotonic() if now is None else now
        expecting, sought = self.expected, self.sought
        kept: list[Any] = []
        holes: dict[int, int] = {}
        for event in batch:
            message = event.message
            partition, offset = message.partition, message.offset
            expected = expecting.get(partition, offset)  # (unknown: where it begins)
            if offset > expected:
                if partition not in sought:
                    holes[partition] = sought[partition] = expected
                    continue
                if self.tries.get(partition, 0) < MAX_TRIES:
                    continue  # in flight from before the seek
                self.skipped.append((partition, expected, offset - 1))
                expected = offset  # read from there MAX_TRIES times: not in the log
            if offset == expected:
                expecting[partition] = offset + 1
                sought.pop(partition, None)
                self.tries.pop(partition, None)
            self.since[partition] = now
            kept.append(event)
        return kept, holes

    def take_skipped(self) -> list[tuple[int, int, int]]:
        """The offsets given up on since the last call (partition, first, last)."""
        skipped, self.skipped = self.skipped, []
        return skipped

    def done(self, now: float | None = None) -> None:
        """A round ended."""
        self.rested = time.monotonic() if now is None else now

    def read_again(self, partition: int, offset: int, now: float | None = None) -> None:
        """The partition was sought back to ``offset``: a new wait before the next time,
        and the records in flight past it are not taken (``offset`` is the next expected:
        further on when the broker no longer holds the records between)."""
        self.since[partition] = time.monotonic() if now is None else now
        again = self.sought.get(partition) == offset
        self.tries[partition] = self.tries.get(partition, 0) + 1 if again else 1
        self.sought[partition] = self.expected[partition] = offset

    def assigned(
        self, partitions: Iterable[int], starts: Mapping[int, int], now: float | None = None
    ) -> None:
        """A rebalance: what another owner took since is unknown; a new grace begins, and
        each partition's reading begins at ``starts`` (unknown ones: where it begins),
        where it was sought: records past it are in flight from before the rebalance."""
        now = time.monotonic() if now is None else now
        self.expected = dict(starts)
        self.sought = dict(starts)
        self.tries = {}
        self.since = dict.fromkeys(partitions, now)


def stalled(
    taken: Taken, ends: Mapping[int, int | None], now: float, wait: float = STALL_SECONDS
) -> dict[int, int]:
    """Partitions to read again, each with the offset to read from: records wait on the
    broker (``ends``: the next offset it will write) past the next one the agent is to
    take, and for ``wait`` seconds none came and no round ended."""
    out: dict[int, int] = {}
    for partition, end in ends.items():
        start = taken.expected.get(partition)
        if end is None or start is None:
            continue
        since = taken.since.get(partition, now)
        # read again and what came since was not what was sought: rounds of those
        # records are no sign of life
        quiet = now - (since if partition in taken.sought else max(since, taken.rested))
        if end > start and quiet >= wait:
            out[partition] = start
    return out
