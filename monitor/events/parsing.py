"""Turn raw bytes into events, or into dead letters that say which field was wrong and why.

Errors are values here: a parse returns either an event or a ``DeadLetter``, so a runner
can never forget to handle a bad event by letting an exception escape its loop.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import orjson
from pydantic import ValidationError

from alerts.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from monitor.events.deadletters import DeadLetter, Reason, unreadable
from monitor.events.decoding import ValidEvent, decode_valid, decode_valid_many, model_of
from monitor.events.schemas import (
    EVENT_TYPES,
    KIND_ADMITS,
    ComplaintEvent,
    Event,
    KpiReport,
    KpiSample,
    RegionInfo,
)

EventModel = type[ComplaintEvent] | type[KpiSample] | type[KpiReport] | type[RegionInfo]

_ENUM_REASONS = {
    "category": Reason.UNKNOWN_CATEGORY,
    "kpi": Reason.UNKNOWN_KPI,
    "channel": Reason.UNKNOWN_CHANNEL,
}
_NAME_REASONS = {f"unknown_{k}": reason for k, reason in _ENUM_REASONS.items()}
_TYPE_ERRORS = {
    "int_type",
    "int_parsing",
    "float_type",
    "float_parsing",
    "string_type",
    "bool_type",
    "int_from_float",
    "dict_type",
    "model_type",
}
_RANGE_ERRORS = {
    "greater_than",
    "greater_than_equal",
    "less_than",
    "less_than_equal",
    "too_short",
    "too_long",
}
_FORMAT_ERRORS = {"string_pattern_mismatch", "string_too_short", "string_too_long"}
_TIME_FIELDS = {"event_time", "period_start"}
_NON_FINITE = re.compile(rb"NaN|Infinity")
MAX_RECORD_BYTES = 1 << 20  # an event is ~200 bytes, a day's KPI report a few KB
KEPT_PREFIX = 4096  # what a too-large record's dead letter keeps (memory stays bounded)


class TooLarge(NamedTuple):
    """A record a reader did not keep whole (a line of a file over ``MAX_RECORD_BYTES``):
    its first bytes and its size. A 300 MB line was read whole, twice over, to be refused."""

    prefix: bytes
    size: int  # the record's bytes
    span: int = 0  # the bytes it takes in its file, its line end included


def too_large(
    size: int, prefix: bytes, source: str, offset: int | None, max_bytes: int = MAX_RECORD_BYTES
) -> DeadLetter:
    """The dead letter of a record over the limit: its size and first bytes, whether it
    arrived whole or a reader cut it short."""
    detail = f"{size:,} bytes, over the {max_bytes:,}-byte limit (first bytes kept)"
    return _dead(Reason.TOO_LARGE, detail, prefix[:KEPT_PREFIX], None, source, offset)


def _reason_for(error: dict[str, object]) -> tuple[Reason, str | None]:
    loc = error.get("loc") or ()
    field = ".".join(str(part) for part in loc) if loc else None  # type: ignore[union-attr]
    kind = str(error.get("type", ""))
    if kind == "missing":
        return Reason.MISSING_FIELD, field
    if kind in ("enum", "literal_error") and field in _ENUM_REASONS:
        return _ENUM_REASONS[field], field
    if kind in _NAME_REASONS:  # a name the taxonomy does not know
        if kind == "unknown_kpi" and field == "kpis":
            ctx = error.get("ctx") or {}
            return _NAME_REASONS[kind], f"kpis.{ctx.get('kpi')}"  # type: ignore[union-attr]
        return _NAME_REASONS[kind], field
    if kind == "enum" and field is not None and field.startswith("kpis."):
        return Reason.UNKNOWN_KPI, field.removesuffix(".[key]")
    if kind == "finite_number":
        return Reason.NON_FINITE, field
    if kind == "value_error" and field is None and "kpis." in str(error.get("msg", "")):
        where = str(error.get("msg", "")).split("kpis.", 1)[1].split(":", 1)[0]
        return Reason.OUT_OF_RANGE, f"kpis.{where}"
    if field in _TIME_FIELDS and kind in ("value_error", "greater_than_equal"):
        return Reason.BAD_TIME, field
    if kind in _TYPE_ERRORS:
        return Reason.WRONG_TYPE, field
    if kind in _RANGE_ERRORS:
        return Reason.OUT_OF_RANGE, field
    if kind in _FORMAT_ERRORS:
        return Reason.INVALID_FORMAT, field
    message = str(error.get("msg", ""))
    if "not a finite number" in message:
        return Reason.NON_FINITE, field or "value"
    if "outside" in message and "range" in message:
        return Reason.OUT_OF_RANGE, field or "value"
    return Reason.WRONG_TYPE, field


# what a name the schemas' pattern refuses must look like, in words, not the pattern
NAME_RULE = "1-64 ASCII letters, digits, '_', '.' or '-', starting with a letter or digit"


def _said(error: Mapping[str, Any]) -> str:
    """The model's message for a person: a refused name says what a name is (an empty
    region cell of a CSV export was told "String should match pattern '^[A-Za-z0-9]...'")."""
    if error.get("type") == "string_pattern_mismatch":
        value = str(error.get("input"))
        if not value:
            return f"empty (a name is {NAME_RULE})"
        shown = repr(value[:64]) + ("..." if len(value) > 64 else "")
        return f"{shown} is no name ({NAME_RULE})"
    return str(error.get("msg", ""))


def _dead(
    reason: Reason, detail: str, raw: bytes, field: str | None, source: str, offset: int | None
) -> DeadLetter:
    return DeadLetter(
        reason=reason, detail=detail, raw=raw, field=field, source=source, offset=offset
    )


class TooDeep(ValueError):
    """JSON nested deeper than a parser takes (orjson stops at 1,024 levels)."""


def load_json(data: bytes) -> object:
    """Decode JSON, accepting the NaN/Infinity that Python and JavaScript producers write
    (so a dead letter can name the non-finite field); raises ValueError when not JSON and
    TooDeep when nested beyond orjson's limit (Python's own decoder would recurse until it
    raised RecursionError, so it is only asked about non-finite numbers)."""
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        message = str(exc)
        if "depth limit" in message or "recursion" in message.lower():
            raise TooDeep(message) from exc
        if _NON_FINITE.search(data) is None and "infinity" not in message:
            raise ValueError(message) from exc  # not a number JSON cannot hold: malformed
        try:
            return json.loads(data)
        except RecursionError:
            raise TooDeep(message) from exc
        except (ValueError, UnicodeDecodeError):
            raise ValueError(message) from exc


def parse_event(
    raw: bytes | str,
    *,
    kind: str | None = None,
    source: str = "",
    offset: int | None = None,
    max_bytes: int = MAX_RECORD_BYTES,
    taxonomy: Taxonomy | None = None,
) -> Event | DeadLetter:
    """Parse one JSON event. ``kind`` is fixed by the topic; otherwise ``type`` decides;
    categories, channels and KPIs are checked against ``taxonomy`` (the config's).

    Never raises: whatever a record is, the answer is an event or a dead letter, so one
    record can never stop a stream.
    """
    parsed = parse_record(
        raw, kind=kind, source=source, offset=offset, max_bytes=max_bytes, taxonomy=taxonomy
    )
    return parsed if isinstance(parsed, DeadLetter | RegionInfo) else model_of(parsed)


def parse_record(
    raw: bytes | str,
    *,
    kind: str | None = None,
    source: str = "",
    offset: int | None = None,
    max_bytes: int = MAX_RECORD_BYTES,
    taxonomy: Taxonomy | None = None,
) -> ValidEvent | RegionInfo | DeadLetter:
    """``parse_event`` for the hot path: a valid record the fast decoder took stays the
    struct it decoded to (``decoding``), without a model built for it."""
    try:
        if type(raw) is bytes:  # the common case, without a copy
            data = raw
        else:
            data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else bytes(raw)
    except (TypeError, ValueError) as exc:
        return _dead(Reason.UNREADABLE, f"not bytes or text: {exc}", b"", None, source, offset)
    if len(data) > max_bytes:
        return too_large(len(data), data, source, offset, max_bytes)
    try:
        return _parse(data, kind, source, offset, taxonomy)
    except Exception as exc:  # noqa: BLE001 - per-record isolation: a dead letter, not a crash
        return unreadable(exc, data, source, offset)


def check_record(
    raw: bytes | TooLarge,
    *,
    kind: str | None = None,
    source: str = "",
    offset: int | None = None,
    taxonomy: Taxonomy | None = None,
) -> ValidEvent | RegionInfo | DeadLetter:
    """What every runner's intake does with a raw record: a blank one is refused as empty
    (a producer's keep-alive, a stray newline), one a reader cut short as too large, any
    other goes to ``parse_record``."""
    if type(raw) is TooLarge:
        return too_large(raw.size, raw.prefix, source, offset)
    if not raw or raw.isspace():  # (not ``strip``: a copy of every record)
        return _dead(Reason.EMPTY, "a blank record", raw, None, source, offset)
    return parse_record(raw, kind=kind, source=source, offset=offset, taxonomy=taxonomy)


def check_records(
    records: Sequence[bytes],
    *,
    kind: str | None = None,
    source: str = "",
    offsets: Sequence[int | None] | None = None,
    taxonomy: Taxonomy | None = None,
) -> list[ValidEvent | RegionInfo | DeadLetter]:
    """``check_record`` of each record of a batch from one source (``offsets``: each
    one's, for its dead letter): the same answers, with the fast decoder's loop over the
    batch (``decode_valid_many``). A record it does not take gets ``check_record``."""
    taxonomy = taxonomy or DEFAULT_TAXONOMY
    fast = decode_valid_many(records, kind, taxonomy)
    where = offsets if offsets is not None else [None] * len(records)
    return [
        event
        if event is not None and len(raw) <= MAX_RECORD_BYTES
        else check_record(raw, kind=kind, source=source, offset=offset, taxonomy=taxonomy)
        for raw, offset, event in zip(records, where, fast, strict=True)
    ]


def _parse(
    data: bytes,
    kind: str | None,
    source: str,
    offset: int | None,
    taxonomy: Taxonomy | None = None,
) -> ValidEvent | RegionInfo | DeadLetter:
    taxonomy = taxonomy or DEFAULT_TAXONOMY
    event = decode_valid(data, kind, taxonomy)
    if event is not None:  # the common case, judged while decoding
        return event
    try:
        payload = load_json(data)
    except TooDeep as exc:
        return _dead(Reason.TOO_DEEP, str(exc), data, None, source, offset)
    except ValueError as exc:
        return _dead(Reason.MALFORMED_JSON, str(exc), data, None, source, offset)
    if not isinstance(payload, dict):
        return _dead(
            Reason.NOT_AN_OBJECT,
            f"expected a JSON object, got {type(payload).__name__}",
            data,
            None,
            source,
            offset,
        )
    declared = payload.get("type", kind)
    if kind is not None and declared not in KIND_ADMITS.get(kind, (kind,)):
        return _dead(
            Reason.UNKNOWN_TYPE,
            f"type {declared!r} on a {kind!r} stream",
            data,
            "type",
            source,
            offset,
        )
    model: EventModel | None = EVENT_TYPES.get(declared) if isinstance(declared, str) else None
    if model is None:
        detail = (
            "missing 'type' (one of complaint, kpi, region)"
            if declared is None
            else f"unknown type {declared!r}"
        )
        return _dead(Reason.UNKNOWN_TYPE, detail, data, "type", source, offset)
    try:
        return model.model_validate(payload, context={"taxonomy": taxonomy})
    except ValidationError as exc:
        first = exc.errors(include_url=False)[0]
        reason, field = _reason_for(first)  # type: ignore[arg-type]
        detail = f"{field or declared}: {_said(first)}"
        extra = exc.error_count() - 1
        if extra:
            detail += f" (+{extra} more error{'s' if extra > 1 else ''})"
        return _dead(reason, detail, data, field, source, offset)
