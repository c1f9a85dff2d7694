"""The intake's loop: raw topics -> a check -> dead letters and bundles -> offsets committed.

One loop for both places the intake runs: a task of the worker's event loop, or a process
of its own (``intake_process``). What differs is given to it: how a batch is checked, and
where its dead letters and bundles are sent (Faust's topics, or a producer of its own).

A batch consumer (aiokafka ``getmany``, its own consumer group), not an agent: validation
keeps no state, so it needs none of Faust's tables or rebalancing, and Faust's path costs
~250 µs per record (docs/benchmarks.md) where this one costs ~20. A batch's offsets are
committed once the broker has acknowledged its bundles and dead letters (while the next
batch is checked and sent): at least once, and the aggregation skips what its state
already applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from monitor.events.deadletters import DeadLetter
from monitor.runners.faust.bundles import Record
from monitor.runners.faust.settings import FETCH_WAIT_MS, WorkerSettings
from monitor.runners.faust.validation import Checked

log = logging.getLogger("yujing.faust")


class Outlet(Protocol):
    """Where a batch goes; each send returns what resolves once the broker has it."""

    async def dead(self, letter: DeadLetter) -> Awaitable[Any]: ...

    async def bundle(self, partition: int, bundle: bytes) -> Awaitable[Any]: ...


Check = Callable[[Sequence[Record]], Awaitable[Checked]]


def dead_letter_headers(letter: DeadLetter) -> list[tuple[str, bytes]]:
    """What a dead letter's record says besides the bytes it keeps."""
    return [
        ("reason", letter.reason.value.encode()),
        ("field", (letter.field or "").encode()),
        ("detail", letter.detail.encode()[:2000]),
        ("source", letter.source.encode()),
        ("offset", str(letter.offset if letter.offset is not None else "").encode()),
    ]


def intake_consumer(settings: WorkerSettings, topics: Sequence[str]) -> AIOKafkaConsumer:
    """The raw topics' consumer, in the intake's own group."""
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.bootstrap,
        group_id=f"{settings.app_id}-intake",
        client_id=f"{settings.app_id}-intake",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=FETCH_WAIT_MS,
        session_timeout_ms=int(settings.session_timeout * 1000),
        heartbeat_interval_ms=int(min(3.0, settings.session_timeout / 3) * 1000),
        **settings.security.aiokafka(),
    )


async def pump(
    consumer: AIOKafkaConsumer,
    settings: WorkerSettings,
    check: Check,
    outlet: Outlet,
    lag: dict[str, int],
    between: Callable[[], bool] = lambda: True,
) -> None:
    """Batches until ``between`` (called before each fetch) says no, or the task is
    cancelled; the last batch sent is committed on the way out. ``lag`` is kept as
    "topic:partition" -> records."""
    sent: Sent | None = None
    try:
        while between():
            fetched = await consumer.getmany(
                timeout_ms=int(settings.batch_seconds * 1000),
                max_records=settings.batch_size,
            )
            # the previous batch is committed once its records are acknowledged, while
            # this one is checked and sent: no round trip of the broker's stands between
            # two batches
            following = await forward(fetched, check, outlet) if fetched else None
            if sent is not None:
                await commit(consumer, sent)
            sent = following
            await measure(consumer, lag)
    finally:
        if sent is not None:
            await commit(consumer, sent)


@dataclass
class Sent:
    """A batch's records on their way to the broker, and the offsets to commit after."""

    acks: list[Awaitable[Any]]
    offsets: dict[TopicPartition, int]


async def commit(consumer: AIOKafkaConsumer, sent: Sent) -> None:
    """Offsets of a batch whose bundles and dead letters the broker acknowledged, for the
    partitions this intake still owns (a rebalance may have moved some since the fetch:
    their new owner re-reads them, and the aggregation skips what it already applied)."""
    await asyncio.gather(*sent.acks)  # a failed send raises: nothing is committed past it
    owned = consumer.assignment()
    offsets = {tp: offset for tp, offset in sent.offsets.items() if tp in owned}
    if not offsets:
        return
    try:
        await consumer.commit(offsets)
    except (CommitFailedError, IllegalStateError) as exc:  # the group rebalanced meanwhile
        log.warning("intake commit refused", extra={"fields": {"error": str(exc)}})


async def forward(fetched: dict[TopicPartition, list[Any]], check: Check, outlet: Outlet) -> Sent:
    """One fetched batch: check it, send dead letters and bundles (not waiting for acks)."""
    # across partitions, the producers' timestamps stand in for arrival order (an event
    # is late relative to what arrived before it)
    records = sorted((r for batch in fetched.values() for r in batch), key=lambda r: r.timestamp)
    result = await check([(r.value or b"", f"{r.topic}:{r.partition}", r.offset) for r in records])
    acks = [await outlet.dead(letter) for letter in result.dead]
    for partition, bundles in sorted(result.bundles.items()):
        for bundle in bundles:
            acks.append(await outlet.bundle(partition, bundle))
    offsets = {tp: batch[-1].offset + 1 for tp, batch in fetched.items() if batch}
    return Sent(acks, offsets)


async def measure(consumer: AIOKafkaConsumer, lag: dict[str, int]) -> None:
    """Lag of the raw partitions this intake owns (a rebalance may have moved some)."""
    owned = consumer.assignment()
    keys = {f"{tp.topic}:{tp.partition}" for tp in owned}
    for key in [k for k in lag if k not in keys]:
        del lag[key]
    for tp in owned:
        high = consumer.highwater(tp)
        if high is not None:
            lag[f"{tp.topic}:{tp.partition}"] = max(high - await consumer.position(tp), 0)
