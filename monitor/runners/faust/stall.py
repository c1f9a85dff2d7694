"""An ``events`` partition whose records stopped reaching the aggregation is read again.

Seen in the SIGKILL test (``tests/services/test_kafka_pipeline.py``): 2 of 19 runs under
load here, 4 of 9 with the first worker killed later. Each time, the worker that took
over had a table to restore (Faust then starts its fetcher during the restore, before it
resumes and seeks the stream partitions) and the killed worker had committed no
``events`` offset (Faust seeks only to a committed offset above 0, so nothing moved the
position back). The consumer's position stood at each partition's end; the agent had
taken the first records only, and the rest never reached its stream: the worker waited
for records it believed it had, for good, with lag on the group and no warning. Which
step of Faust drops them was not found. Seeking the partition back to the first offset
the agent has not taken revived it (a live worker, by hand); the windows skip what their
state already applied, so a record read twice is counted once. The Kafka test
``test_a_worker_killed_before_its_first_commit_is_taken_over_whole`` makes the stall
happen every time: without this module it waits for good; with it, three partitions are
read again and the hours and tickets are the embedded runner's.

So a partition is read again when the broker holds records past what the agent took, the
agent is idle between rounds, and none came for ``STALL_SECONDS``. A long round (a
catch-up judging hundreds of hours) holds the round lock: no check runs meanwhile.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

STALL_SECONDS = 30.0  # records waiting this long with none taken: read the partition again
CHECK_SECONDS = 10.0


@dataclass
class Taken:
    """Per owned ``events`` partition: the highest offset the agent took, and when a
    record of it (or its assignment) last came."""

    offsets: dict[int, int] = field(default_factory=dict)
    since: dict[int, float] = field(default_factory=dict)
    # when the agent last finished a round: records wait during a long one, and a check
    # that ran right after it must not take that for a stall
    rested: float = 0.0

    def note(self, batch: Iterable[Any], now: float | None = None) -> None:
        """The records of one round (Faust events: ``.message.partition``/``.offset``)."""
        now = time.monotonic() if now is None else now
        offsets, since = self.offsets, self.since
        for event in batch:
            message = event.message
            partition, offset = message.partition, message.offset
            if offset > offsets.get(partition, -1):
                offsets[partition] = offset
            since[partition] = now

    def done(self, now: float | None = None) -> None:
        """A round ended."""
        self.rested = time.monotonic() if now is None else now

    def read_again(self, partition: int, now: float | None = None) -> None:
        """The partition was sought back: a new wait before the next time."""
        self.since[partition] = time.monotonic() if now is None else now

    def assigned(self, partitions: Iterable[int], now: float | None = None) -> None:
        """A rebalance: what another owner took since is unknown; a new grace begins."""
        now = time.monotonic() if now is None else now
        self.offsets = {}
        self.since = dict.fromkeys(partitions, now)


def stalled(
    taken: Taken,
    ends: Mapping[int, int | None],
    committed: Mapping[int, int | None],
    now: float,
    wait: float = STALL_SECONDS,
) -> dict[int, int]:
    """Partitions to read again, each with the offset to read from: records wait on the
    broker (``ends``: the next offset it will write) past the first the agent has not
    taken, and for ``wait`` seconds none came and no round ended. Never taken since the
    assignment: from the group's committed offset, else from the partition's start (0:
    an offset the broker no longer holds is reset to its earliest by the consumer)."""
    out: dict[int, int] = {}
    for partition, end in ends.items():
        if end is None:
            continue
        last = taken.offsets.get(partition)
        start = last + 1 if last is not None else (committed.get(partition) or 0)
        quiet = now - max(taken.since.get(partition, now), taken.rested)
        if end > start and quiet >= wait:
            out[partition] = start
    return out
