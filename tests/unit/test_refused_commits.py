"""A commit the broker refused (a commit that raced a rebalance) is sent again by the next
commit. Faust's own consumer bookkeeping runs here: acks, the ack list, the committed
offsets; only its driver's ``_commit`` (the broker's answer) and its producer are stood in
for. Without ``retry_refused_commits`` the second commit sends nothing (Faust took the
refused offsets as committed), which left a quiet worker's ``events`` lag above zero."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import faust
import pytest
from faust.types import TP
from faust.types.tuples import Message

from monitor.runners.faust.commits import retry_refused_commits

EVENTS = TP("events", 0)


class Broker:
    """The driver's side of a commit: refuses the first ``refusals`` commits."""

    def __init__(self, refusals: int) -> None:
        self.refusals = refusals
        self.committed: dict[TP, int] = {}

    async def commit(self, offsets: dict[TP, int]) -> bool:
        if self.refusals:
            self.refusals -= 1
            return False
        self.committed.update(offsets)
        return True


class Producer:
    async def flush(self) -> None:
        return None


@pytest.fixture
def consumer_of() -> Iterator[object]:
    loops: list[asyncio.AbstractEventLoop] = []  # the app's, and its consumer thread's

    def make(broker: Broker, *, retry: bool, owned: set[TP] | None = None) -> faust.App:
        loop = asyncio.new_event_loop()
        loops.append(loop)
        app = faust.App(
            "yujing-commit-test", broker="kafka://127.0.0.1:9", store="memory://", loop=loop
        )
        app.producer = Producer()  # type: ignore[assignment]
        app.topics._acking_topics.add(EVENTS.topic)  # what subscribing to the topic sets
        consumer = app.consumer
        loops.append(consumer._thread.thread_loop)  # never started: closed here
        consumer.assignment = lambda: {EVENTS} if owned is None else owned  # type: ignore[method-assign]
        consumer._commit = broker.commit  # type: ignore[method-assign]
        if retry:
            assert retry_refused_commits(app)
            assert retry_refused_commits(app)  # once is enough: no double wrapping
        return app

    yield make
    for loop in loops:
        loop.close()


def ack(app: faust.App, offsets: range) -> None:
    for offset in offsets:
        message = Message(EVENTS.topic, EVENTS.partition, offset, 0.0, 0, {}, b"k", b"v", None)
        assert app.consumer.ack(message)


def commit(app: faust.App) -> bool:
    return app.loop.run_until_complete(app.consumer.commit())


def test_a_refused_commit_is_sent_again_by_the_next(consumer_of: object) -> None:
    broker = Broker(refusals=1)
    app = consumer_of(broker, retry=True)  # type: ignore[operator]
    ack(app, range(10))
    assert not commit(app)  # "already rebalanced": refused
    assert broker.committed == {}
    assert commit(app)  # nothing new was acked, and yet it goes again
    assert broker.committed == {EVENTS: 10}
    ack(app, range(10, 15))  # and the stream goes on from there
    assert commit(app)
    assert broker.committed == {EVENTS: 15}


def test_acks_after_the_refusal_join_the_retry(consumer_of: object) -> None:
    broker = Broker(refusals=2)
    app = consumer_of(broker, retry=True)  # type: ignore[operator]
    ack(app, range(10))
    assert not commit(app)
    ack(app, range(10, 20))
    assert not commit(app)
    ack(app, range(20, 25))
    assert commit(app)
    assert broker.committed == {EVENTS: 25}


def test_a_partition_no_longer_owned_is_left_to_its_next_owner(consumer_of: object) -> None:
    broker = Broker(refusals=1)
    app = consumer_of(broker, retry=True, owned={TP("events", 1)})  # type: ignore[operator]
    ack(app, range(10))
    assert not commit(app)  # Faust discards it: not in the assignment
    assert not commit(app)
    assert broker.committed == {}


def test_without_the_retry_faust_forgets_the_refused_offsets(consumer_of: object) -> None:
    """Why the wrapper exists: the installed Faust still takes a refusal as a commit (an
    upgrade that fixes it fails here, and the wrapper can go)."""
    broker = Broker(refusals=1)
    app = consumer_of(broker, retry=False)  # type: ignore[operator]
    ack(app, range(10))
    assert not commit(app)
    assert not commit(app)
    assert broker.committed == {}


def test_a_consumer_without_fausts_books_is_left_alone() -> None:
    class Bare:
        consumer = type("C", (), {"_commit_offsets": None})()

    assert not retry_refused_commits(Bare())  # type: ignore[arg-type]
