"""Bundles: many validated events bound for one partition, in one Kafka record.

The intake re-keys raw events by region (any producer key in, region out). One Kafka
record per event costs the framework a send, a future and an acknowledgement per event on
the way out and its whole per-message path on the way in; one record per destination
partition and fetched batch costs that once per batch.

A bundle carries each event as the intake validated it (its fields by name, MessagePack,
decoded in C straight into the struct the hot path carries), so the aggregation has the
event without parsing or validating it again, and beside it the event's original bytes
and its position in the raw topic (source partition and offset): the aggregation
dead-letters the very bytes a producer sent and skips what a restored window state already
applied, exactly as with single records.
Version 1 bundles (raw bytes only, from a worker before this format) are still read: their
events are validated again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache

import msgspec
import orjson
from kafka.partitioner.default import murmur2

from monitor.events.decoding import FastEvent, ValidEvent

VERSION = 2
BUNDLE_HEADER = ("fmt", f"bundle-v{VERSION}".encode())
BUNDLE_V1 = b"bundle-v1"

Record = tuple[bytes, str, int]  # raw value, source "topic:partition", offset
# a record and its event; None: not validated yet (a version 1 bundle, another producer)
Item = tuple[bytes, str, int, ValidEvent | None]

_encoder = msgspec.msgpack.Encoder()
# version, sources, each event's source index, offset, raw bytes and fields (a map with
# ``type``: a struct encodes to it with its tag, a model as its fields)
_Bundle = tuple[int, list[str], list[int], list[int], list[bytes], list[FastEvent]]
_decoder = msgspec.msgpack.Decoder(_Bundle)


@lru_cache(maxsize=65536)  # murmur2 is pure Python: a few µs per event, once per region
def partition_for(region: str | bytes, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for the key ``region`` (so bundles
    land where region-keyed records, and the window table's changelog, would)."""
    key = region if isinstance(region, bytes) else region.encode()
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def encode_bundle(items: Iterable[tuple[bytes, str, int, ValidEvent]]) -> bytes:
    """(raw event, source partition, offset, event) in arrival order (event-time
    lateness depends on it: an event is late relative to what arrived before it)."""
    sources: dict[str, int] = {}
    index, offsets, raws, fields = [], [], [], []
    for raw, source, offset, event in items:
        index.append(sources.setdefault(source, len(sources)))
        offsets.append(offset)
        raws.append(raw)
        fields.append(event if isinstance(event, msgspec.Struct) else event.__dict__)
    return _encoder.encode((VERSION, list(sources), index, offsets, raws, fields))


def encode_bundles(
    items: Sequence[tuple[bytes, str, int, ValidEvent]], max_bytes: int = 256 * 1024
) -> list[bytes]:
    """As many bundles as keep each under ``max_bytes`` of raw events (a broker refuses
    records over ~1 MB; an event's fields take fewer bytes than its JSON)."""
    out, start, size = [], 0, 0
    for i, item in enumerate(items):
        if size and size + len(item[0]) > max_bytes:
            out.append(encode_bundle(items[start:i]))
            start, size = i, 0
        size += len(item[0])
    if start < len(items):
        out.append(encode_bundle(items[start:]))
    return out


# what MessagePack raises for a value it cannot write
_UNENCODABLE = (msgspec.EncodeError, OverflowError, TypeError, ValueError)


def encode_safely(
    items: Sequence[tuple[bytes, str, int, ValidEvent]],
) -> tuple[list[bytes], list[tuple[bytes, str, int, ValidEvent]]]:
    """``encode_bundles``, and the items that fit no bundle (MessagePack refuses an int
    beyond 64 bits, say): one such event must become a dead letter, not stop the intake."""
    try:
        return encode_bundles(items), []
    except _UNENCODABLE:
        fit, refused = [], []
        for item in items:
            try:
                encode_bundle([item])
            except _UNENCODABLE:
                refused.append(item)
            else:
                fit.append(item)
        return encode_bundles(fit), refused


def decode_bundle(value: bytes) -> list[Item]:
    """Back to (raw event, source partition, offset, event), in arrival order; the events
    as the intake validated them, decoded straight into the hot path's structs."""
    try:
        version, sources, index, offsets, raws, events = _decoder.decode(value)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a version {VERSION} bundle: {exc}") from exc
    if version != VERSION or not len(index) == len(offsets) == len(raws) == len(events):
        raise ValueError(f"not a version {VERSION} bundle")
    return [
        (raw, sources[i], offset, event)
        for i, offset, raw, event in zip(index, offsets, raws, events, strict=True)
    ]


def decode_bundle_v1(value: bytes) -> list[Item]:
    """A version 1 bundle: raw events and their positions, to be validated again."""
    doc = orjson.loads(value)
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise ValueError("not a version 1 bundle")
    sources = doc["sources"]
    return [
        (raw.encode(), sources[i], offset, None)
        for i, offset, raw in zip(doc["src"], doc["off"], doc["raw"], strict=True)
    ]
