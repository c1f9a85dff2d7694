"""The aggregation agent: ``events`` -> windows table -> ``hourly`` -> detectors -> alerts.

Crash safety without transactions, by ordering and idempotence:
1. aggregates, findings and notifications are produced, ticket rows committed (hours a
   catch-up kept back are judged at the latest by the next snapshot, before step 2);
2. at the next snapshot (``snapshots``) the producer is flushed;
3. only then is each changed region's window state written to the ``windows`` table,
4. and only then are the events acked (their offsets may be committed).
A worker killed anywhere replays from its last committed offset; the restored window state
remembers the highest input offset it applied per source partition, so replayed events are
skipped, and re-emitted hours are identical (same region, hour and revision). Tickets have
deterministic keys, so a replayed detection opens nothing new.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import faust

from monitor.events.deadletters import DeadLetter, Reason
from monitor.events.parsing import KEPT_PREFIX
from monitor.runners.faust.bundles import (
    BUNDLE_HEADER,
    BUNDLE_V1,
    Item,
    decode_bundle,
    decode_bundle_v1,
)
from monitor.runners.faust.core import Batch
from monitor.runners.faust.intake import send_dead
from monitor.runners.faust.outputs import produce, publish
from monitor.runners.faust.snapshots import save
from monitor.runners.faust.topology import Topology

log = logging.getLogger("yujing.faust")
# A bundle carries a whole intake batch, so waiting ``batch_seconds`` for ``batch_size``
# records (bundles) held every bundle that long: the agent takes what has arrived instead,
# every few milliseconds (single records from other producers still batch up meanwhile).
TAKE_SECONDS = 0.02


def register(t: Topology) -> None:
    settings = t.settings

    @t.app.agent(t.events)
    async def aggregate(stream: faust.StreamT) -> None:
        """Events -> windows -> hourly topic -> detectors -> tickets and alerts; the window
        state is saved (and the events acked) by snapshots."""
        unsaved = t.unsaved
        unsaved.stream = stream
        async for batch in stream.noack_take(settings.batch_size, within=TAKE_SECONDS):
            async with unsaved.lock:
                await follow_assignment(t)
                t.taken.note(batch)
                items, unreadable = await t.core.off_loop(unbundle, batch)
                for letter in unreadable:
                    await send_dead(t, letter)
                await round_of(t, items)
                unsaved.hold(batch)
                if unsaved.due():
                    await save(t)
                t.taken.done()


async def round_of(t: Topology, items: list[Item]) -> None:
    """One batch through the pipeline; its outputs sent (durable by the next snapshot)."""
    core = t.core
    await core.off_loop(core.reload_if_changed)
    await core.off_loop(t.regions.refresh)
    try:
        result = await core.off_loop(core.ingest, items)
    except Exception:
        await core.off_loop(core.drop_unsaved)
        raise
    await deliver(t, result)


async def deliver(t: Topology, result: Batch) -> None:
    """Closed hours to the hourly topic, judged, their findings and alerts sent (durable
    by the next snapshot); dead letters to theirs."""
    core = t.core
    closed = time.perf_counter()  # the hours the watermark passed are closed now
    for letter in result.dead:
        await send_dead(t, letter)
    await produce(t, t.hourly.get_topic_name(), result.hourly)
    waiting = behind(t)  # a catch-up: its hours wait to be judged together
    t.unsaved.behind = waiting
    ticks, notes = await core.off_loop(core.detect, result.aggregates, waiting)
    if result.aggregates and not waiting:  # ticket rows and their outbox rows are committed
        core.metrics.processing.labels("close").observe(time.perf_counter() - closed)
    await publish(t, ticks, notes)


def behind(t: Topology) -> bool:
    """Records wait upstream: raw ones the intake has not read, bundles this agent has not
    taken (in Kafka or in its stream's buffer). Closed hours then wait (at the latest for
    the next snapshot) and are judged together; a live hour is judged at once."""
    # the stream's channel queue, read without creating one (Faust's property would)
    queue = getattr(getattr(t.unsaved.stream, "channel", None), "_queue", None)
    return (queue is not None and queue.qsize() > 0) or any(t.lag().values())


def unbundle(batch: list[Any]) -> tuple[list[Item], list[DeadLetter]]:
    """The events the ``events`` records of a batch carry, and a dead letter for each
    record that claims to be a bundle and is not one (the stream goes on)."""
    items: list[Item] = []
    dead: list[DeadLetter] = []
    for event in batch:
        try:
            items.extend(items_of(event))
        except ValueError as exc:
            msg = event.message
            dead.append(
                DeadLetter(
                    Reason.UNREADABLE,
                    f"{msg.topic} record with a bundle header: {exc}"[:500],
                    bytes(event.value or b"")[:KEPT_PREFIX],
                    None,
                    f"{msg.topic}:{msg.partition}",
                    msg.offset,
                )
            )
    return items, dead


def items_of(event: Any) -> list[Item]:
    """(raw, source partition, offset, event or None) of each event a record carries."""
    msg = event.message
    headers = dict(msg.headers or [])
    fmt = headers.get(BUNDLE_HEADER[0])
    if fmt == BUNDLE_HEADER[1]:
        return decode_bundle(event.value)
    if fmt == BUNDLE_V1:
        return decode_bundle_v1(event.value)
    src, off = headers.get("src"), headers.get("off")
    if src is None or off is None:  # not from our validator: use this topic's position
        return [(event.value, f"{msg.topic}:{msg.partition}", msg.offset, None)]
    return [(event.value, src.decode(), int(off), None)]


def owned_partitions(t: Topology) -> set[int]:
    """The events-topic partitions this worker's consumer is assigned now."""
    events_name = t.settings.topics.name("events")
    return {tp.partition for tp in t.app.consumer.assignment() if tp.topic == events_name}


async def follow_assignment(t: Topology) -> None:
    """After a rebalance: window state, series and alert state of the owned partitions."""
    owned = owned_partitions(t)
    if owned == t.core.assigned:
        return
    # what the partitions kept hold is saved and acked first (a kept partition is not
    # read again from its committed offset); the moved ones' events are redelivered
    await save(t, owned)
    t.taken.assigned(owned)
    n = await t.core.off_loop(t.core.restore, owned)
    # the table holds the owned partitions' regions now (recovered before agents run)
    held = await t.core.off_loop(t.core.hold_saved, list(t.windows.items()))
    log.info(
        "partitions assigned",
        extra={"fields": {"partitions": sorted(owned), "hourly_records": n, "regions": held}},
    )
