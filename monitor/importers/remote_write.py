"""Prometheus remote write (protocol 1.0) in: snappy-compressed protobuf ``WriteRequest``s
decoded, bounded, and mapped to KPI readings by the config's ``remote_write`` section.

Pure functions from bytes to event payloads; the HTTP receiver and its sinks (the raw KPI
topic, or an embedded pipeline) are adapters around them. Each payload then goes through
the stream's own validation, so a reading is judged by one definition wherever it came
from.
"""

from __future__ import annotations

import math
import struct
from collections import Counter
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import cramjam
import orjson
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
from google.protobuf.message import DecodeError

from monitor.config.model import RemoteWriteSettings

MAX_DECOMPRESSED = 64 * 2**20  # a WriteRequest is a few MB; more is a bomb, not data
# Prometheus marks a series gone with this particular NaN; it is no reading
STALE_NAN = struct.unpack("<d", struct.pack("<Q", 0x7FF0000000000002))[0]


class RemoteWriteError(ValueError):
    """A request body that is not a remote-write request: why, in one line."""


@cache
def _write_request() -> Any:
    """The ``prometheus.WriteRequest`` message class, built from its four messages (the
    fields Yujing reads; exemplars, histograms and metadata are skipped as unknown)."""
    f = descriptor_pb2.FieldDescriptorProto
    proto = descriptor_pb2.FileDescriptorProto(
        name="yujing/remote_write.proto", package="prometheus", syntax="proto3"
    )

    def message(name: str, *fields: tuple[str, int, int, int, str]) -> None:
        msg = proto.message_type.add(name=name)
        for field_name, number, kind, label, type_name in fields:
            added = msg.field.add(name=field_name, number=number, type=kind, label=label)
            if type_name:
                added.type_name = type_name

    one, many = f.LABEL_OPTIONAL, f.LABEL_REPEATED
    message("Label", ("name", 1, f.TYPE_STRING, one, ""), ("value", 2, f.TYPE_STRING, one, ""))
    message("Sample", ("value", 1, f.TYPE_DOUBLE, one, ""), ("timestamp", 2, f.TYPE_INT64, one, ""))
    message(
        "TimeSeries",
        ("labels", 1, f.TYPE_MESSAGE, many, ".prometheus.Label"),
        ("samples", 2, f.TYPE_MESSAGE, many, ".prometheus.Sample"),
    )
    message("WriteRequest", ("timeseries", 1, f.TYPE_MESSAGE, many, ".prometheus.TimeSeries"))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(proto)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("prometheus.WriteRequest"))


def _uncompressed_length(body: bytes) -> int:
    """Snappy's block format starts with the uncompressed length as a varint: read it
    before decompressing, so a small body cannot expand into gigabytes."""
    length, shift = 0, 0
    for i, byte in enumerate(body[:10]):
        length |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return length
        shift += 7
        if i == 9:
            break
    raise RemoteWriteError("not snappy: no length header")


def decode(body: bytes) -> Any:
    """The ``WriteRequest`` in a snappy-compressed body, or RemoteWriteError."""
    if not body:
        raise RemoteWriteError("empty body")
    length = _uncompressed_length(body)
    if length > MAX_DECOMPRESSED:
        raise RemoteWriteError(f"expands to {length:,} bytes, over {MAX_DECOMPRESSED:,}")
    try:
        raw = bytes(cramjam.snappy.decompress_raw(body))
    except cramjam.DecompressionError as exc:
        raise RemoteWriteError(f"not snappy-compressed: {exc}") from exc
    request = _write_request()()
    try:
        request.ParseFromString(raw)
    except DecodeError as exc:
        raise RemoteWriteError(f"not a protobuf WriteRequest: {exc}") from exc
    return request


def encode(series: list[tuple[dict[str, str], list[tuple[int, float]]]]) -> bytes:
    """A snappy-compressed ``WriteRequest`` (tests and tools speak the protocol too)."""
    request = _write_request()()
    for labels, samples in series:
        ts = request.timeseries.add()
        for name, value in sorted(labels.items()):
            ts.labels.add(name=name, value=value)
        for at, value in samples:
            ts.samples.add(timestamp=at, value=value)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


@dataclass
class Readings:
    payloads: list[tuple[bytes, bytes]] = field(default_factory=list)  # (region key, event)
    skipped: Counter[str] = field(default_factory=Counter)  # reason -> samples


def readings(request: Any, settings: RemoteWriteSettings) -> Readings:
    """KPI reading payloads (JSON, as on the raw KPI topic) of the mapped series."""
    out = Readings()
    for ts in request.timeseries:
        labels = {label.name: label.value for label in ts.labels}
        kpi = settings.kpis.get(labels.get("__name__", ""))
        if kpi is None:
            out.skipped["metric not in remote_write.kpis"] += len(ts.samples)
            continue
        region = labels.get(settings.region_label)
        if not region:
            out.skipped[f"no {settings.region_label} label"] += len(ts.samples)
            continue
        site = labels.get(settings.site_label) or region
        for sample in ts.samples:
            if math.isnan(sample.value) and struct.pack("<d", sample.value) == struct.pack(
                "<d", STALE_NAN
            ):
                out.skipped["staleness marker"] += 1
                continue
            payload = {
                "type": "kpi",
                "event_time": sample.timestamp,
                "region": region,
                "site": site,
                "kpi": kpi,
                "value": sample.value if math.isfinite(sample.value) else str(sample.value),
            }
            out.payloads.append((region.encode(), orjson.dumps(payload)))
    return out
