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
deterministic keys, so a replayed detection opens nothing new. A round that fails without
killing the worker is made the same case (``start_over``).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Iterable, Mapping
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
from monitor.runners.faust.stall import MAX_TRIES
from monitor.runners.faust.topology import Topology

log = logging.getLogger("yujing.faust")
# A bundle carries a whole intake batch, so waiting ``batch_seconds`` for ``batch_size``
# records (bundles) held every bundle that long: the agent takes what has arrived instead,
# every few milliseconds (single records from other producers still batch up meanwhile).
TAKE_SECONDS = 0.02
# why an ``events`` partition is read again (``stall``)
HOLE = "events records never reached the aggregation (Faust drops some at a rebalance); read again"
STALL = "events partition stalled: records waited and none reached the aggregation; read again"
FROM_START = "events partition without a committed offset: read from its start"
START_OVER = "a round failed: the owned events partitions start over from their committed offsets"
READ_OVER = "events partition read again from its committed offset, after a failed round"
SKIPPED = (
    f"events offsets never came, read again {MAX_TRIES} times: taken as not in the log "
    "(does another producer write to Yujing's events topic with transactions?)"
)


def register(t: Topology) -> None:
    settings = t.settings

    @t.app.agent(t.events)
    async def aggregate(stream: faust.StreamT) -> None:
        """Events -> windows -> hourly topic -> detectors -> tickets and alerts; the window
        state is saved (and the events acked) by snapshots."""
        unsaved = t.unsaved
        unsaved.stream = stream
        async for batch in stream.noack_take(settings.batch_size, within=TAKE_SECONDS):
            if wait := t.failures.waiting():  # a round failed: its records were sought
                await asyncio.sleep(wait)
            async with unsaved.lock:
                await guarded(t, agent_round(t, batch))
                t.taken.done()


async def agent_round(t: Topology, batch: list[Any]) -> None:
    if await follow_assignment(t):  # (none taken while a rebalance runs)
        kept = await in_order(t, batch)
        if kept:
            await take(t, kept)


async def in_order(t: Topology, batch: list[Any]) -> list[Any]:
    """The records of ``batch`` the windows may apply: each partition's in order, the
    others read again (``stall``)."""
    kept, holes = t.taken.admit(batch)
    if holes:
        await read_again(t, holes, HOLE)
    for partition, first, last in t.taken.take_skipped():
        fields = {"partition": partition, "offsets": f"{first}-{last}"}
        log.error(SKIPPED, extra={"fields": fields})
    return kept


async def take(t: Topology, events: list[Any]) -> None:
    """Records through the windows; a snapshot when one is due."""
    items, unreadable = await t.core.off_loop(unbundle, events)
    for letter in unreadable:
        await send_dead(t, letter)
    await round_of(t, items)
    t.unsaved.hold(events)
    if t.unsaved.due():
        await save(t)


async def round_of(t: Topology, items: list[Item]) -> None:
    """One batch through the pipeline; its outputs sent (durable by the next snapshot)."""
    core = t.core
    await core.off_loop(core.reload_if_changed)
    await core.off_loop(t.regions.refresh)
    await deliver(t, await core.off_loop(core.ingest, items))


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


async def guarded(t: Topology, work: Awaitable[None]) -> None:
    """Await a round (hold ``t.unsaved.lock``); one that fails half-way starts over."""
    try:
        await work
    except Exception as error:  # noqa: BLE001 - any failure: read again, not lost
        await start_over(t, error)
    else:
        t.failures.succeeded()


async def start_over(t: Topology, error: Exception) -> None:
    """A round failed half-way (the ticket database away at an hour's close, a broker
    refusing a write): the owned partitions start over from their committed offsets, as
    a restarted worker's would, after a wait (``failures``).

    The agent went on with the next batch: the failed round's records, taken and never
    read again, were lost, and acked past at the next snapshot; a timer's failure ended
    the worker.
    """
    wait = t.failures.failed()
    t.core.metrics.rounds_failed.inc()
    log.error(
        START_OVER,
        exc_info=error,
        extra={
            "fields": {
                "error": f"{type(error).__name__}: {error}".splitlines()[0][:300],
                "failed_in_a_row": t.failures.in_a_row,
                "wait_s": wait,
            }
        },
    )
    t.unsaved.forget()  # applied to the windows dropped now: read again, acked then
    await t.core.off_loop(t.core.drop_unsaved)
    owned = owned_partitions(t)
    starts, _ = await reading_starts(t, owned)
    t.taken.assigned(owned, starts)
    await read_again(t, starts, READ_OVER, warn=False)


def owned_partitions(t: Topology) -> set[int]:
    """The events-topic partitions this worker's consumer is assigned now."""
    return set(events_partitions(t))


async def follow_assignment(t: Topology) -> bool:
    """After a rebalance: window state, series and alert state of the owned partitions,
    and where each one's reading begins. False until the rebalance ends (its recovery's
    end clears Faust's queues, ``stall``): nothing is taken before."""
    if t.app.rebalancing:
        return False
    owned = owned_partitions(t)
    if owned == t.core.assigned:
        return True
    starts, uncommitted = await reading_starts(t, owned)
    # what the partitions kept hold is saved and acked first (a kept partition is not
    # read again from its committed offset); the moved ones' events are redelivered
    await save(t, owned)
    t.taken.assigned(owned, starts)
    # Faust seeks only partitions with a committed offset; the others are read from
    # their start, whatever it fetched before its queues were cleared
    await read_again(t, {p: starts[p] for p in uncommitted}, FROM_START, warn=False)
    n = await t.core.off_loop(t.core.restore, owned)
    # the table holds the owned partitions' regions now (recovered before agents run)
    held = await t.core.off_loop(t.core.hold_saved, list(t.windows.items()))
    log.info(
        "partitions assigned",
        extra={"fields": {"partitions": sorted(owned), "hourly_records": n, "regions": held}},
    )
    return True


async def reading_starts(t: Topology, owned: set[int]) -> tuple[dict[int, int], set[int]]:
    """Where each owned ``events`` partition's reading begins: the group's committed
    offset, else the log's start (the earlier of them once retention passed it); and
    the partitions without a committed offset."""
    consumer = t.app.consumer
    tps = events_partitions(t, owned)
    books = getattr(consumer, "_committed_offset", {})  # Faust's, as in ``commits``
    earliest = await consumer.earliest_offsets(*tps.values()) if tps else {}
    starts = {p: max(books.get(tp) or 0, earliest.get(tp) or 0) for p, tp in tps.items()}
    return starts, {p for p, tp in tps.items() if not books.get(tp)}


def events_partitions(t: Topology, among: Iterable[int] | None = None) -> dict[int, Any]:
    """The assigned ``events`` topic partitions (of ``among``), by number."""
    name = t.settings.topics.name("events")
    tps = {tp.partition: tp for tp in t.app.consumer.assignment() if tp.topic == name}
    return tps if among is None else {p: tps[p] for p in among if p in tps}


async def read_again(
    t: Topology,
    found: Mapping[int, int],
    why: str,
    warn: bool = True,
    ends: Mapping[int, int | None] | None = None,
) -> None:
    """Seek each partition of ``found`` back to its offset (or to the log's start, when
    retention deleted the records before it) and take it in order from there (``ends``:
    the log's end offsets, when known, said with it). The seek
    runs on the consumer's thread (``seek_wait``): a seek from the event loop's raced
    aiokafka's fetcher there, which crashed (``KeyError`` in ``fetched_records``)."""
    tps = events_partitions(t, found)
    if not tps:
        return
    consumer = t.app.consumer
    earliest = await consumer.earliest_offsets(*tps.values())
    starts = {p: max(found[p], earliest.get(tp) or 0) for p, tp in tps.items()}
    try:
        await consumer.seek_wait({tps[p]: start for p, start in starts.items()})
    except TimeoutError:  # sought, the new positions not confirmed: the stall check follows
        log.warning(
            "events partitions sought, positions not confirmed",
            extra={"fields": {"partitions": sorted(starts)}},
        )
    now = time.monotonic()
    for partition, start in sorted(starts.items()):
        t.taken.read_again(partition, start, now)
        fields: dict[str, object] = {
            "partition": f"{tps[partition].topic}:{partition}",
            "from_offset": start,
        }
        if ends is not None and ends.get(partition) is not None:
            fields["end_offset"] = ends[partition]
        if start > found[partition]:  # gone before anyone read them
            fields["deleted_by_retention"] = f"{found[partition]}-{start - 1}"
        if warn:
            t.core.metrics.events_rereads.inc()
            log.warning(why, extra={"fields": fields})
        else:
            log.info(why, extra={"fields": fields})
