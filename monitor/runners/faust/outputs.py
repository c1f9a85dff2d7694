"""What a judged hour sends: each finding to ``findings``, each notification to ``alerts``.

Sent from the aggregation's rounds and from a snapshot (which first judges the hours a
catch-up kept back); durable once the producer is flushed, before any event is acked.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import orjson

from alerts.findings import TickResult
from alerts.policy.notifiers import Notification
from monitor.runners.faust.bundles import partition_for

if TYPE_CHECKING:
    from aiokafka.producer.message_accumulator import BatchBuilder

    from monitor.runners.faust.topology import Topology


async def publish(t: Topology, ticks: list[TickResult], notes: list[Notification]) -> None:
    await produce(
        t,
        t.findings.get_topic_name(),
        (
            (
                sf.finding.region.encode(),
                orjson.dumps(
                    {"spec_id": sf.spec_id, "severity": sf.severity.value} | sf.finding.to_json()
                ),
            )
            for tick in ticks
            for sf in tick.findings
        ),
    )
    await produce(
        t,
        t.alerts.get_topic_name(),
        ((note.ticket.region.encode(), orjson.dumps(note.to_json())) for note in notes),
    )


async def produce(t: Topology, topic: str, records: Iterable[tuple[bytes, bytes]]) -> None:
    """Keyed records handed to the producer a batch per partition (durable at the next
    flush like any send), partitioned by key as Kafka's default partitioner would. One
    ``send`` per record cost ~20 µs of the event loop (Faust's ``Topic.send`` ~300): a
    catch-up closes an hour for every region, and its sends were a tenth of the worker's
    time (docs/benchmarks.md); a batch costs ~4 µs a record."""
    producer = t.app.producer._ensure_producer()  # Faust's own aiokafka producer
    count = len(await producer.partitions_for(topic))
    batches: dict[int, BatchBuilder] = {}
    for key, value in records:
        partition = partition_for(key, count)
        batch = batches.get(partition)
        if batch is None:
            batch = batches[partition] = producer.create_batch()
        if batch.append(key=key, value=value, timestamp=None) is None:  # full
            await producer.send_batch(batch, topic, partition=partition)
            batch = batches[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # one too large
                await producer.send(topic, value, key=key, partition=partition)
                del batches[partition]
    for partition, batch in batches.items():
        await producer.send_batch(batch, topic, partition=partition)
