"""Dead letters: every event the pipeline cannot use, kept with its raw bytes and the reason.

Nothing is ever dropped silently. A dead letter carries enough to replay the event once
the producer is fixed: the original payload, where it came from and exactly what was wrong.
"""

from __future__ import annotations

import base64
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import IO, Protocol

import orjson


class Reason(StrEnum):
    """Closed set of reasons, so metrics labelled by reason stay bounded."""

    MALFORMED_JSON = "malformed_json"
    NOT_AN_OBJECT = "not_an_object"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    WRONG_TYPE = "wrong_type"
    UNKNOWN_CATEGORY = "unknown_category"
    UNKNOWN_KPI = "unknown_kpi"
    UNKNOWN_CHANNEL = "unknown_channel"
    NON_FINITE = "non_finite"
    OUT_OF_RANGE = "out_of_range"
    BAD_TIME = "bad_time"
    INVALID_FORMAT = "invalid_format"
    LATE = "late"
    TOO_LARGE = "too_large"  # over the record size limit; the dead letter keeps a prefix
    TOO_DEEP = "too_deep"  # JSON nested beyond what a parser can take without recursing away
    UNREADABLE = "unreadable"  # anything else a record did to the parser: never a crash
    UNKNOWN_REGION = "unknown_region"  # not in the reference data, which admits regions
    REGION_CAP = "region_cap"  # more regions than windows.max_regions: the cap bites
    EMPTY = "empty"  # a blank line: counted like every other input, never skipped silently


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """An event that was rejected, with the reason and the field that caused it."""

    reason: Reason
    detail: str
    raw: bytes
    field: str | None = None
    source: str = ""
    offset: int | None = None

    def to_json(self) -> dict[str, object]:
        try:
            raw_text: str | None = self.raw.decode("utf-8")
            raw_b64 = None
        except UnicodeDecodeError:
            raw_text, raw_b64 = None, base64.b64encode(self.raw).decode("ascii")
        return {
            "reason": self.reason.value,
            "field": self.field,
            "detail": self.detail,
            "source": self.source,
            "offset": self.offset,
            "raw": raw_text,
            "raw_base64": raw_b64,
        }


def unreadable(exc: Exception, raw: bytes, source: str, offset: int | None) -> DeadLetter:
    """The dead letter of a record that made a stage raise (per-record isolation: the
    error's type and words, cut to a length a log line and a table cell can hold)."""
    detail = f"{type(exc).__name__}: {exc}"[:500]
    return DeadLetter(Reason.UNREADABLE, detail, raw, None, source, offset)


class DeadLetterSink(Protocol):
    def put(self, letter: DeadLetter) -> None: ...


@dataclass
class MemoryDeadLetters:
    """Counts dead letters by reason and keeps the first ``keep`` of them in memory (for a
    summary or a test); the rest are counted, not held: memory stays bounded however much
    of the input is bad. ``keep=None`` keeps all (a runner that drains it per batch)."""

    letters: list[DeadLetter] = field(default_factory=list)
    by_reason: Counter[str] = field(default_factory=Counter)
    keep: int | None = None

    def put(self, letter: DeadLetter) -> None:
        if self.keep is None or len(self.letters) < self.keep:
            self.letters.append(letter)
        self.by_reason[letter.reason.value] += 1

    def __len__(self) -> int:
        return len(self.letters)

    def __iter__(self) -> Iterator[DeadLetter]:
        return iter(self.letters)


class JsonlDeadLetters:
    """Appends dead letters to a JSONL file, one object per line, flushed per letter."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[bytes] = path.open("ab")
        self.by_reason: Counter[str] = Counter()

    def put(self, letter: DeadLetter) -> None:
        self._file.write(orjson.dumps(letter.to_json()) + b"\n")
        self._file.flush()
        self.by_reason[letter.reason.value] += 1

    def close(self) -> None:
        self._file.close()


class TeeDeadLetters:
    """Sends each dead letter to several sinks (e.g. a file and the in-memory counter)."""

    def __init__(self, *sinks: DeadLetterSink) -> None:
        self.sinks = sinks

    def put(self, letter: DeadLetter) -> None:
        for sink in self.sinks:
            sink.put(letter)
