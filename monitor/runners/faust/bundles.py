"""Bundles: many validated raw events bound for one partition, in one Kafka record.

The intake re-keys raw events by region (any producer key in, region out). One Kafka
record per event costs the framework a send, a future and an acknowledgement per event on
the way out and its whole per-message path on the way in; one record per destination
partition and fetched batch costs that once per batch. A bundle keeps each
event's original bytes and its position in the raw topic (source partition and offset),
so the aggregation agent dead-letters the very bytes a producer sent and skips what a
restored window state already applied, exactly as with single records.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import orjson
from kafka.partitioner.default import murmur2

BUNDLE_HEADER = ("fmt", b"bundle-v1")


@lru_cache(maxsize=65536)  # murmur2 is pure Python: a few µs per event, once per region
def partition_for(region: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for the key ``region`` (so bundles
    land where region-keyed records, and the window table's changelog, would)."""
    return (murmur2(region.encode()) & 0x7FFFFFFF) % partitions


def encode_bundle(items: Iterable[tuple[bytes, str, int]]) -> bytes:
    """(raw event, source partition, offset) triples, in arrival order (event-time
    lateness depends on it: an event is late relative to what arrived before it)."""
    sources: dict[str, int] = {}
    index, offsets, raws = [], [], []
    for raw, source, offset in items:
        index.append(sources.setdefault(source, len(sources)))
        offsets.append(offset)
        raws.append(raw.decode())  # validated JSON: UTF-8 by definition
    return orjson.dumps(
        {"v": 1, "sources": list(sources), "src": index, "off": offsets, "raw": raws}
    )


def encode_bundles(items: list[tuple[bytes, str, int]], max_bytes: int = 256 * 1024) -> list[bytes]:
    """As many bundles as keep each under ``max_bytes`` of raw events (a broker refuses
    records over ~1 MB, and JSON escaping grows the raw bytes by up to a half)."""
    out, start, size = [], 0, 0
    for i, (raw, _source, _offset) in enumerate(items):
        if size and size + len(raw) > max_bytes:
            out.append(encode_bundle(items[start:i]))
            start, size = i, 0
        size += len(raw)
    if start < len(items):
        out.append(encode_bundle(items[start:]))
    return out


def decode_bundle(value: bytes) -> list[tuple[bytes, str, int]]:
    """Back to (raw event, source partition, offset) triples, in arrival order."""
    doc = orjson.loads(value)
    if not isinstance(doc, dict) or doc.get("v") != 1:
        raise ValueError("not a version 1 bundle")
    sources = doc["sources"]
    return [
        (raw.encode(), sources[i], offset)
        for i, offset, raw in zip(doc["src"], doc["off"], doc["raw"], strict=True)
    ]
