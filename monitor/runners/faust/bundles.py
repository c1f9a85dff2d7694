"""Bundles: many validated events bound for one partition, in one Kafka record.

The intake re-keys raw events by region (any producer key in, region out). One Kafka
record per event costs the framework a send, a future and an acknowledgement per event on
the way out and its whole per-message path on the way in; one record per destination
partition and fetched batch costs that once per batch.

A bundle carries each event as the intake validated it (its fields, in the model's order,
MessagePack), so the aggregation builds the event without parsing or validating it again,
and beside it the event's original bytes and its position in the raw topic (source
partition and offset): the aggregation dead-letters the very bytes a producer sent and
skips what a restored window state already applied, exactly as with single records.
Version 1 bundles (raw bytes only, from a worker before this format) are still read: their
events are validated again.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from functools import lru_cache
from operator import itemgetter

import msgspec
import orjson
from kafka.partitioner.default import murmur2

from monitor.events.schemas import EVENT_TYPES, ComplaintEvent, KpiReport, KpiSample

BUNDLE_HEADER = ("fmt", b"bundle-v2")
BUNDLE_V1 = b"bundle-v1"
VERSION = 2

ValidEvent = ComplaintEvent | KpiSample | KpiReport
Record = tuple[bytes, str, int]  # raw value, source "topic:partition", offset
# a record and its event; None: not validated yet (a version 1 bundle, another producer)
Item = tuple[bytes, str, int, ValidEvent | None]

_FIELDS = {name: tuple(model.model_fields) for name, model in EVENT_TYPES.items()}
_ROW = {name: itemgetter(*fields) for name, fields in _FIELDS.items()}
_encoder = msgspec.msgpack.Encoder()
# version, sources, each event's source index, offset, raw bytes and fields
_Bundle = tuple[int, list[str], list[int], list[int], list[bytes], list[list]]
_decoder = msgspec.msgpack.Decoder(_Bundle)


@lru_cache(maxsize=65536)  # murmur2 is pure Python: a few µs per event, once per region
def partition_for(region: str, partitions: int) -> int:
    """The partition Kafka's default partitioner picks for the key ``region`` (so bundles
    land where region-keyed records, and the window table's changelog, would)."""
    return (murmur2(region.encode()) & 0x7FFFFFFF) % partitions


def encode_bundle(items: Iterable[tuple[bytes, str, int, ValidEvent]]) -> bytes:
    """(raw event, source partition, offset, event) in arrival order (event-time
    lateness depends on it: an event is late relative to what arrived before it)."""
    sources: dict[str, int] = {}
    index, offsets, raws, rows = [], [], [], []
    for raw, source, offset, event in items:
        index.append(sources.setdefault(source, len(sources)))
        offsets.append(offset)
        raws.append(raw)
        rows.append(_ROW[event.type](event.__dict__))  # the type's name comes first
    return _encoder.encode((VERSION, list(sources), index, offsets, raws, rows))


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


def decode_bundle(value: bytes) -> list[Item]:
    """Back to (raw event, source partition, offset, event), in arrival order; the events
    as the intake validated them."""
    try:
        version, sources, index, offsets, raws, rows = _decoder.decode(value)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not a version {VERSION} bundle: {exc}") from exc
    if version != VERSION or not len(index) == len(offsets) == len(raws) == len(rows):
        raise ValueError(f"not a version {VERSION} bundle")
    return [
        (raw, sources[i], offset, _event(row))
        for i, offset, raw, row in zip(index, offsets, raws, rows, strict=True)
    ]


def _event(row: list) -> ValidEvent:
    name = row[0] if row else None
    fields = _FIELDS.get(name) if isinstance(name, str) and name != "region" else None
    if fields is None or len(fields) != len(row):
        raise ValueError(f"not an event's fields: {str(row)[:200]}")
    return EVENT_TYPES[name].trusted(dict(zip(fields, row, strict=True)))  # type: ignore[return-value]


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
