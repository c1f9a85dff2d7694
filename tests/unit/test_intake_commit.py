"""The intake commits a batch's offsets after its records are acknowledged, and only for
the partitions it still owns: a rebalance between fetch and commit must not crash it
(four workers on eight partitions did, in bench_scaling)."""

import asyncio

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from monitor.runners.faust.intake_loop import Sent, commit

A, B = TopicPartition("raw.kpis", 0), TopicPartition("raw.kpis", 1)


class Consumer:
    def __init__(self, owned, refuse=None):
        self.owned, self.refuse, self.committed = set(owned), refuse, []

    def assignment(self):
        return set(self.owned)

    async def commit(self, offsets):
        if self.refuse is not None:
            raise self.refuse
        if set(offsets) - self.owned:
            raise IllegalStateError("Partition is not assigned")
        self.committed.append(dict(offsets))


def acked():
    future = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


def test_offsets_of_partitions_moved_away_are_left_to_their_new_owner():
    async def run():
        consumer = Consumer(owned=[A])
        await commit(consumer, Sent([acked()], {A: 10, B: 20}))
        return consumer.committed

    assert asyncio.run(run()) == [{A: 10}]


def test_a_commit_refused_by_a_rebalance_is_logged_not_raised():
    async def run():
        for error in (CommitFailedError("rebalanced"), IllegalStateError("not assigned")):
            await commit(Consumer(owned=[A, B], refuse=error), Sent([acked()], {A: 1}))

    asyncio.run(run())


def test_nothing_is_committed_past_a_send_that_failed():
    async def run():
        consumer = Consumer(owned=[A])
        failed = asyncio.get_running_loop().create_future()
        failed.set_exception(OSError("broker gone"))
        try:
            await commit(consumer, Sent([acked(), failed], {A: 5}))
        except OSError:
            return consumer.committed
        raise AssertionError("the failed send was swallowed")

    assert asyncio.run(run()) == []
