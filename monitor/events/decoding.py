"""The hot path's decoder: msgspec structs that validate while they decode.

A pydantic model per event cost 5-13 µs, more than decoding the JSON (docs/benchmarks.md).
msgspec checks types and lengths inside its decoder, and a report's readings against
their KPI's range (a decoder per taxonomy); what is left (the region's pattern, the
taxonomy's names, a sample's range, times given as text) is a few lookups here. The structs
are the events the hot path carries on (windows and bundles read their fields and
properties, as they would a model's); ``model_of`` gives the model. The structs only
ever *accept*: a record they do not take whole, for any reason, goes to the pydantic
models (``parsing``), whose errors name the field and reason of the dead letter, so the
dead letters are the same as without this path. A property test holds the two to the
same events (tests/unit/test_decoding.py).

>>> from alerts.taxonomy import DEFAULT_TAXONOMY
>>> raw = b'{"type": "kpi", "event_time": 0, "region": "north", "site": "s1",'
>>> raw += b' "kpi": "latency", "value": 12.5}'
>>> decode_valid(raw, None, DEFAULT_TAXONOMY)
Sample(event_time=0, region='north', site='s1', kpi='latency', value=12.5)
>>> decode_valid(b'{"type": "kpi", "value": "high"}', None, DEFAULT_TAXONOMY) is None
True
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Annotated, Any, ClassVar

import msgspec

from alerts.taxonomy import Taxonomy
from monitor.events.schemas import (
    MAX_READINGS,
    REGION_PATTERN,
    ComplaintEvent,
    KpiReport,
    KpiSample,
    last_reading_time,
    readings_of,
    to_epoch_ms,
)

# the schemas' constraints, in msgspec's terms (the region's pattern is checked after
# decoding, once per name: in the decoder it cost 0.7 µs an event, a quarter of it)
_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
_Text = Annotated[str, msgspec.Meta(max_length=4000)]
_Readings = Annotated[list[float], msgspec.Meta(min_length=1, max_length=MAX_READINGS)]
_Time = int | float | str  # converted and checked by the schemas' own function
_SAFE_INT = 2**53  # beyond it JSON decoders disagree (orjson gives a float): slow path


class Complaint(msgspec.Struct, frozen=True, tag_field="type", tag="complaint"):
    """A valid complaint as the hot path carries it: ``ComplaintEvent``'s fields and
    properties (``event_time`` in epoch milliseconds once ``decode_valid`` accepted it)."""

    type: ClassVar[str] = "complaint"
    readings: ClassVar[int] = 1
    id: _Id
    event_time: _Time
    region: str
    category: str
    channel: str
    text: _Text | None = None


class Sample(msgspec.Struct, frozen=True, tag_field="type", tag="kpi"):
    """A valid KPI sample as the hot path carries it (``KpiSample``'s fields)."""

    type: ClassVar[str] = "kpi"
    readings: ClassVar[int] = 1
    event_time: _Time
    region: str
    site: _Id
    kpi: str
    value: float


class Report(msgspec.Struct, frozen=True, tag_field="type", tag="kpi_report"):
    """A valid KPI report as the hot path carries it (``KpiReport``'s fields and
    properties)."""

    type: ClassVar[str] = "kpi_report"
    period_start: _Time
    interval_s: Annotated[int, msgspec.Meta(ge=1, le=3600)]
    region: str
    site: _Id
    kpis: Annotated[dict[str, _Readings], msgspec.Meta(min_length=1)]

    @property
    def readings(self) -> int:
        return readings_of(self.kpis)

    @property
    def event_time(self) -> int:
        return last_reading_time(self.period_start, self.interval_s, self.kpis)  # type: ignore[arg-type]


FastEvent = Complaint | Sample | Report
# a valid event: as decoded on the hot path, or as the models built it
ValidEvent = FastEvent | ComplaintEvent | KpiSample | KpiReport
_MODELS: dict[type, type[ComplaintEvent] | type[KpiSample] | type[KpiReport]] = {
    Complaint: ComplaintEvent,
    Sample: KpiSample,
    Report: KpiReport,
}


def _bounded_report(
    names: tuple[tuple[str, str], ...], ranges: dict[str, tuple[float, float]]
) -> type[msgspec.Struct]:
    """A report as one taxonomy admits it: each KPI's readings checked against its range
    while they are decoded (a check in Python after decoding cost ~4 µs a report of 36
    readings, more than the decoding), any other KPI refused. ``names``: (field, KPI)
    pairs; the fields' Python names are stand-ins, since a KPI may be named anything a
    ``Name`` admits."""
    fields = [
        (
            field,
            Annotated[
                list[Annotated[float, msgspec.Meta(ge=ranges[kpi][0], le=ranges[kpi][1])]],
                msgspec.Meta(min_length=1, max_length=MAX_READINGS),
            ]
            | msgspec.UnsetType,
            msgspec.UNSET,
        )
        for field, kpi in names
    ]
    readings = msgspec.defstruct("Readings", fields, rename=dict(names), forbid_unknown_fields=True)
    return msgspec.defstruct(
        "BoundedReport",
        [(f.name, f.type) for f in msgspec.structs.fields(Report) if f.name != "kpis"]
        + [("kpis", readings)],
        tag_field="type",
        tag="kpi_report",
        frozen=True,
    )


def _decoders(report: type[msgspec.Struct]) -> dict[str | None, msgspec.json.Decoder]:
    """By the topic's kind: on the complaints topic the topic says what a record is, and
    ``type`` may be absent (a tagged struct decoded alone takes a record without its tag,
    refuses a wrong one)."""
    return {
        None: msgspec.json.Decoder(Complaint | Sample | report),  # type: ignore[operator]
        "complaint": msgspec.json.Decoder(Complaint),
        "kpi": msgspec.json.Decoder(Sample | report),  # type: ignore[operator]
    }


def _time(value: _Time) -> int | None:
    if type(value) is int:
        return value if 0 <= value < _SAFE_INT else None
    try:
        ms = to_epoch_ms(value)
    except ValueError:
        return None
    return ms if isinstance(ms, int) and 0 <= ms < _SAFE_INT else None


# ``\Z``: Python's ``$`` also matches before a final newline, which pydantic's does not
_REGION = re.compile(REGION_PATTERN.removesuffix("$") + r"\Z")
_REGIONS: set[str] = set()  # names that matched
_MAX_REGIONS = 65_536  # beyond: forgotten and matched again (memory stays bounded)


def _region_ok(name: str) -> bool:
    if name in _REGIONS:
        return True
    if _REGION.match(name) is None:
        return False
    if len(_REGIONS) >= _MAX_REGIONS:
        _REGIONS.clear()
    _REGIONS.add(name)
    return True


def _admitted(name: str) -> bool:
    return 0 < len(name) <= 64  # the schemas' ``Name``


class _Vocabulary:
    """A taxonomy's names as the schemas admit them (``Name``: 1-64 characters), and each
    KPI's range. JSON has no infinities and msgspec refuses numbers beyond a double, so a
    reading is finite and a range check is all it needs."""

    __slots__ = ("categories", "channels", "decoders", "names", "ranges", "report", "taxonomy")

    def __init__(self, taxonomy: Taxonomy) -> None:
        self.taxonomy = taxonomy
        self.categories = frozenset(filter(_admitted, taxonomy.category_names))
        self.channels = frozenset(filter(_admitted, taxonomy.channels))
        self.ranges = {k.name: (k.low, k.high) for k in taxonomy.kpis if _admitted(k.name)}
        # a report's KPIs: (the bounded report's field, the KPI it stands in for)
        self.names = tuple((f"k{i}", name) for i, name in enumerate(self.ranges))
        self.report = _bounded_report(self.names, self.ranges)
        self.decoders = _decoders(self.report)


_VOCABULARIES: dict[int, _Vocabulary] = {}


def _vocabulary(taxonomy: Taxonomy) -> _Vocabulary:
    """By identity: hashing a taxonomy (a tree of tuples) per event would cost more than
    the lookups it serves; a config reload brings a new one."""
    vocabulary = _VOCABULARIES.get(id(taxonomy))
    if vocabulary is None or vocabulary.taxonomy is not taxonomy:
        if len(_VOCABULARIES) >= 8:
            _VOCABULARIES.clear()
        vocabulary = _VOCABULARIES[id(taxonomy)] = _Vocabulary(taxonomy)
    return vocabulary


# what a decode that the models must judge raises (TypeError: a record that is not bytes)
_NOT_TAKEN = (msgspec.DecodeError, UnicodeDecodeError, RecursionError, TypeError)


def decode_valid(data: bytes, kind: str | None, taxonomy: Taxonomy) -> FastEvent | None:
    """The event when ``data`` is a valid complaint, sample or report (the fields the
    pydantic models would build it with, ``model_of``); None when anything about it needs
    their judgement."""
    vocabulary = _vocabulary(taxonomy)
    decoder = vocabulary.decoders.get(kind)
    if decoder is None:
        return None
    try:
        return _accepted(decoder.decode(data), vocabulary)
    except _NOT_TAKEN:  # the models judge it
        return None


def decode_valid_many(
    records: Sequence[bytes], kind: str | None, taxonomy: Taxonomy
) -> list[FastEvent | None]:
    """``decode_valid`` of each record of a batch from one topic: a worker's batch is
    thousands of records, and the lookups and calls around one decode cost ~1 µs of the
    ~3 µs a sample took (``Pipeline.validate`` a record at a time)."""
    vocabulary = _vocabulary(taxonomy)
    decoder = vocabulary.decoders.get(kind)
    if decoder is None:
        return [None] * len(records)
    decode = decoder.decode
    out: list[FastEvent | None] = []
    for data in records:
        try:
            out.append(_accepted(decode(data), vocabulary))
        except _NOT_TAKEN:
            out.append(None)
    return out


def _accepted(s: Any, vocabulary: _Vocabulary) -> FastEvent | None:
    """A decoded struct as the event, or None where the schemas' checks left after
    decoding (the region's pattern, the taxonomy's names, a sample's range, the time)
    do not all pass."""
    if not _region_ok(s.region):
        return None
    if type(s) is Sample:
        t = _time(s.event_time)
        bounds = vocabulary.ranges.get(s.kpi)
        if t is None or bounds is None or not bounds[0] <= s.value <= bounds[1]:
            return None
        return s if t is s.event_time else msgspec.structs.replace(s, event_time=t)
    if type(s) is Complaint:
        t = _time(s.event_time)
        if (
            t is None
            or s.category not in vocabulary.categories
            or s.channel not in vocabulary.channels
        ):
            return None
        return s if t is s.event_time else msgspec.structs.replace(s, event_time=t)
    if type(s) is vocabulary.report:
        t = _time(s.period_start)
        given = s.kpis
        kpis = {n: v for f, n in vocabulary.names if (v := getattr(given, f)) is not msgspec.UNSET}
        if t is None or not kpis:
            return None
        return Report(
            period_start=t,
            interval_s=s.interval_s,
            region=s.region,
            site=s.site,
            kpis=kpis,
        )
    return None


def model_of(event: ValidEvent) -> ComplaintEvent | KpiSample | KpiReport:
    """The schemas' model of an event (built without validating again: the fields are
    valid); a model is its own."""
    model = _MODELS.get(type(event))
    if model is None:
        return event  # type: ignore[return-value]
    return model.trusted({"type": event.type, **msgspec.structs.asdict(event)})  # type: ignore[arg-type]


def event_json(event: ValidEvent) -> bytes:
    """The event as one JSON record (what a dead letter keeps when no bytes came with it)."""
    if isinstance(event, msgspec.Struct):
        return msgspec.json.encode(event)
    return event.model_dump_json().encode()
