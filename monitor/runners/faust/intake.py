"""Intake: raw complaint and KPI topics -> dead letters, or bundles on the ``events`` topic.

A batch consumer (aiokafka ``getmany``, its own consumer group), not an agent: validation
keeps no state, so it needs none of Faust's tables or rebalancing, and Faust's path costs
~250 µs per record (docs/benchmarks.md) where this one costs ~20. A batch's offsets are
committed once the broker has acknowledged its bundles and dead letters (while the next
batch is validated and sent): at least once, and the aggregation skips what its state
already applied.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import CommitFailedError, IllegalStateError

from monitor.events.deadletters import DeadLetter
from monitor.runners.faust.bundles import BUNDLE_HEADER
from monitor.runners.faust.core import dead_letter_headers
from monitor.runners.faust.settings import FETCH_WAIT_MS
from monitor.runners.faust.topology import Topology

log = logging.getLogger("yujing.faust")


async def send_dead(t: Topology, letter: DeadLetter) -> Awaitable[Any]:
    """Sent (buffered); the returned awaitable resolves when the broker has it."""
    return await t.deadletters.send(value=letter.raw, headers=dead_letter_headers(letter))


def register(t: Topology) -> None:
    settings = t.settings

    @t.app.task
    async def intake() -> None:
        """Raw topics -> dead letters, or one bundle per events-topic partition and batch."""
        consumer = AIOKafkaConsumer(
            *t.raw_topics,
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
        await consumer.start()
        sent: Sent | None = None
        try:
            while True:
                fetched = await consumer.getmany(
                    timeout_ms=int(settings.batch_seconds * 1000),
                    max_records=settings.batch_size,
                )
                # the previous batch is committed once its records are acknowledged,
                # while this one is validated and sent: no round trip of the broker's
                # stands between two batches
                following = await forward(t, fetched) if fetched else None
                if sent is not None:
                    await commit(consumer, sent)
                sent = following
                await measure(t, consumer)
        finally:
            try:
                if sent is not None:
                    await commit(consumer, sent)
            finally:
                await consumer.stop()


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


async def forward(t: Topology, fetched: dict[TopicPartition, list[Any]]) -> Sent:
    """One fetched batch: validate, send dead letters and bundles (not waiting for acks)."""
    # across partitions, the producers' timestamps stand in for arrival order (an event
    # is late relative to what arrived before it)
    records = sorted((r for batch in fetched.values() for r in batch), key=lambda r: r.timestamp)
    result = await t.core.check(
        [(r.value or b"", f"{r.topic}:{r.partition}", r.offset) for r in records]
    )
    acks = [await send_dead(t, letter) for letter in result.dead]
    for partition, bundles in sorted(result.bundles.items()):
        for bundle in bundles:
            acks.append(
                await t.events.send(value=bundle, partition=partition, headers=[BUNDLE_HEADER])
            )
    offsets = {tp: batch[-1].offset + 1 for tp, batch in fetched.items() if batch}
    return Sent(acks, offsets)


async def measure(t: Topology, consumer: AIOKafkaConsumer) -> None:
    """Lag of the raw partitions this intake owns (a rebalance may have moved some)."""
    owned = consumer.assignment()
    keys = {f"{tp.topic}:{tp.partition}" for tp in owned}
    for key in [k for k in t.intake_lag if k not in keys]:
        del t.intake_lag[key]
    for tp in owned:
        high = consumer.highwater(tp)
        if high is not None:
            t.intake_lag[f"{tp.topic}:{tp.partition}"] = max(high - await consumer.position(tp), 0)
