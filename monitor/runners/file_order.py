"""A file of events replayed in the order of their times when its lines are far from it.

A replay reads a file as one stream, in line order. An operator's file is often several
exports one after the other: one region's, then the next region's; complaints, then KPIs.
Read in line order, the second export's events are weeks behind the first's. Their hours
then closed after the series' history had moved past them, so their findings were lost:
on 56 days of five regions written region by region, four regions' first tickets opened
10-14 days late. With complaints as the only input, a KPI export after the complaints was
dead-lettered whole as late.

A stream recorded live is in time order but for a few late events; those are what the
windows' lateness is for, and a replay keeps them as they came. Many lines more than
``OUT_OF_ORDER_MS`` behind the newest event before them are not late, they are another
export: such a file is replayed in event-time order. Lines keep their numbers
(a dead letter still names its line), and lines without a time (region records, lines
that are not events) come first, as the reference data a stream starts from.

Memory: a sort key and a byte offset per line (16 bytes, and the sort's 8); the lines are
read from the file, mapped, in the new order.

Example (``scan`` a file, then replay ``numbered()``):

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "events.jsonl"
>>> _ = path.write_bytes(
...     b'{"type":"kpi","event_time":"2026-09-01T00:00:00Z","region":"b"}\\n'
...     b'{"type":"complaint","event_time":"2026-08-01T00:00:00Z","region":"a"}\\n'
... )
>>> order = scan(path, out_of_order_lines=1)
>>> order.disorder.line, order.disorder.region, order.disorder.days_behind
(2, 'a', 31.0)
>>> [n for n, _line in order.numbered()]
[2, 1]
"""

from __future__ import annotations

import mmap
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, BinaryIO

import msgspec
import numpy as np

from detectors.timeaxis import DAY_MS
from monitor.events.parsing import KEPT_PREFIX, MAX_RECORD_BYTES, TooLarge
from monitor.events.schemas import to_epoch_ms
from monitor.windows.stream_clock import VOUCHING_EVENTS

OUT_OF_ORDER_MS = DAY_MS  # a line this far behind the newest before it: another export
# ... when this many lines are, and this share of the file. A mistyped year, a site's
# clock set back, a recorded stream's events a day late are a few lines: read in line
# order they are late, as they were live. An export after another is thousands.
OUT_OF_ORDER_LINES = VOUCHING_EVENTS
OUT_OF_ORDER_SHARE = 0.01
NO_TIME = -(2**63)  # a line without a time: first, in its place
MAX_LINE = MAX_RECORD_BYTES + 2  # a record and its line end ("\r\n"): read whole
REPLAYED = "Replayed in event-time order; dead letters keep their line numbers."
LATEST = 2**62  # times past this (a year ~146 million) are not times: ``NO_TIME``


class _When(msgspec.Struct):
    """What ordering needs of a line; every other field is skipped. The times as msgspec
    reads RFC 3339 (fast); anything else ``_Any`` and the parser's ``to_epoch_ms``."""

    event_time: int | float | datetime | None = None
    period_start: int | float | datetime | None = None
    region: Any = None


class _Any(msgspec.Struct):
    event_time: Any = None
    period_start: Any = None
    region: Any = None


_FAST = msgspec.json.Decoder(_When).decode
_SLOW = msgspec.json.Decoder(_Any).decode


def _time(value: object) -> int | None:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            return None  # the parser refuses a naive time: the replay dead-letters it
        ms: object = round(value.timestamp() * 1000)  # a sort key: a ms either way is fine
    else:
        try:
            ms = to_epoch_ms(value)
        except ValueError:
            return None
    return ms if isinstance(ms, int) and -LATEST < ms < LATEST else None


def _when(line: bytes) -> tuple[int, object]:
    """(sort key, region) of one line: a report by its period's start, an event by its
    time, anything else ``NO_TIME``."""
    if len(line) > MAX_RECORD_BYTES:
        return NO_TIME, None
    seen: _When | _Any
    try:
        seen = _FAST(line)
    except msgspec.ValidationError:
        try:
            seen = _SLOW(line)
        except (msgspec.DecodeError, msgspec.ValidationError, RecursionError):
            return NO_TIME, None
    except (msgspec.DecodeError, RecursionError):
        return NO_TIME, None  # the replay dead-letters it, with its reason
    moment = seen.period_start if seen.period_start is not None else seen.event_time
    at = _time(moment) if moment is not None else None
    return (NO_TIME, None) if at is None else (at, seen.region)


@dataclass(frozen=True)
class Disorder:
    """The line furthest behind the newest event before it."""

    line: int
    region: str | None
    behind_ms: int

    @property
    def days_behind(self) -> float:
        return round(self.behind_ms / DAY_MS, 1)

    def describe(self, name: str, done: str = REPLAYED) -> str:
        """What a person replaying (or producing) the file is told."""
        region = f" (region {self.region})" if self.region else ""
        return (
            f"{name} is not in time order: line {self.line:,}{region} is "
            f"{self.days_behind:,} days behind the newest event before it (several exports "
            f"one after the other?). {done}"
        )


@dataclass(frozen=True)
class FileOrder:
    """How to replay one file: in line order, or (``disorder``) in event-time order."""

    path: Path
    lines: int | None  # None: a pipe, read once as it comes (its order is its own)
    disorder: Disorder | None
    order: np.ndarray | None = None  # line indexes in time order
    starts: np.ndarray | None = None  # each line's first byte, then the file's end

    def numbered(self) -> Iterator[tuple[int, bytes | TooLarge]]:
        """(line number, line) in the order to replay them; a line over the record limit
        as its first bytes and size (``TooLarge``)."""
        if self.order is None or self.starts is None:
            with self.path.open("rb") as fh:
                yield from enumerate(read_lines(fh), start=1)
            return
        starts = self.starts
        with self.path.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            for i in self.order.tolist():
                start, end = starts[i], starts[i + 1]
                if end - start > MAX_LINE:
                    span = int(end - start)
                    size = span - _line_end(mm[end - 2 : end])
                    yield i + 1, TooLarge(mm[start : start + KEPT_PREFIX], size, span)
                else:
                    yield i + 1, mm[start:end]


def read_lines(fh: BinaryIO) -> Iterator[bytes | TooLarge]:
    """The lines of a file or a pipe, each read whole up to the record limit; a longer
    one is skipped a chunk at a time and given as its first bytes and size, so memory
    stays bounded whatever a line's length."""
    while True:
        line = fh.readline(MAX_LINE + 1)
        if not line:
            return
        if len(line) <= MAX_LINE or line.endswith(b"\n"):
            yield line
            continue
        span, prefix, rest = len(line), line[:KEPT_PREFIX], line
        while True:
            rest = fh.readline(MAX_LINE)
            span += len(rest)
            if not rest or rest.endswith(b"\n"):
                break
        yield TooLarge(prefix, span - _line_end(rest), span)


def _line_end(tail: bytes) -> int:
    """How many of a line's last bytes are its end ("\\n", "\\r\\n"): not the record's size."""
    return len(tail) - len(tail.rstrip(b"\r\n"))


def scan(
    path: Path, out_of_order_ms: int = OUT_OF_ORDER_MS, out_of_order_lines: int = OUT_OF_ORDER_LINES
) -> FileOrder:
    """Read ``path`` once for its lines' times; the order to replay it in. A pipe
    (``/dev/stdin``, ``<(cat a b)``) can be read only once: it is replayed as it comes."""
    if not path.is_file():
        return FileOrder(path, None, None)
    keys = array("q")
    starts = array("q", [0])
    newest = NO_TIME
    behind = 0  # lines more than ``out_of_order_ms`` behind the newest before them
    worst: Disorder | None = None
    with path.open("rb") as fh:
        for n, line in enumerate(read_lines(fh), start=1):
            if type(line) is TooLarge:  # refused as too large when it is replayed
                starts.append(starts[-1] + line.span)
                keys.append(NO_TIME)
                continue
            starts.append(starts[-1] + len(line))
            at, region = _when(line)
            keys.append(at)
            if at == NO_TIME:
                continue
            if at > newest:
                newest = at
            elif newest - at > out_of_order_ms:
                behind += 1
                if worst is None or newest - at > worst.behind_ms:
                    name = region if isinstance(region, str) else None
                    worst = Disorder(n, name, newest - at)
    if worst is None or behind < max(out_of_order_lines, OUT_OF_ORDER_SHARE * len(keys)):
        return FileOrder(path, len(keys), None)
    order = np.argsort(np.frombuffer(keys, dtype=np.int64), kind="stable")
    return FileOrder(path, len(keys), worst, order, np.frombuffer(starts, dtype=np.int64))
