"""An operator's CSV export, row by row, into events or hourly values.

Streams: one line in memory at a time (a line longer than ``MAX_LINE_BYTES`` is rejected
and skipped, never loaded), so a multi-gigabyte export imports in flat memory. Every row
ends as exactly one of: accepted, or rejected with its line, the column at fault and the
reason (the event's own validation decides, with the dead-letter reasons of the stream).
"""

from __future__ import annotations

import csv
import math
import re
from collections import Counter, deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, NamedTuple

import orjson

from alerts.taxonomy import DEFAULT_TAXONOMY, Taxonomy
from alerts.zones import zone_of
from monitor.events.deadletters import DeadLetter, Reason
from monitor.events.parsing import NAME_RULE, parse_event
from monitor.events.schemas import REGION_PATTERN, Event
from monitor.importers.mapping import ColumnMap, Kind
from monitor.importers.times import TimeReader
from monitor.windows.aggregation import WindowConfig, outside_accepted_times

REGION = re.compile(REGION_PATTERN)
MAX_LINE_BYTES = 1 << 20  # one row: far beyond any real export's, bounded memory
# lines one row may span (line breaks in a quoted cell: a complaint's text); a quote never
# closed is given up on after these, not carried to the end of the file
MAX_ROW_LINES = 100
_END = object()
MAX_EXAMPLES = 5  # rejections shown, one of each kind


def region_refused(name: str, detail: str) -> str:
    """Why a region name is refused, and what the person importing can do about it (the
    name quoted as JSON, which YAML reads whatever the name holds: a colon, a brace)."""
    quoted = orjson.dumps(name).decode()
    return f"{detail}; name it in the mapping: recode: {{region: {{{quoted}: <name>}}}}"


@dataclass(frozen=True, slots=True)
class Rejected:
    line: int
    column: str | None
    reason: str
    detail: str
    cells: list[str]

    def message(self) -> str:
        where = f"line {self.line}" + (f", column {self.column!r}" if self.column else "")
        return f"{where}: {self.reason}: {self.detail}"


class TimeBounds(NamedTuple):
    """The times a row may have: what the stream accepts (``windows``) by this clock."""

    window: WindowConfig
    wall_ms: int


@dataclass(frozen=True, slots=True)
class Value:
    """One aggregated value of the ``values`` kind."""

    region: str
    time: int
    metric: str
    value: float


@dataclass
class ImportReport:
    rows: int = 0
    accepted: int = 0
    rejected: Counter[str] = field(default_factory=Counter)
    # the first rejection of each kind (reason and column), for people: 30,000 rows of one
    # region name Yujing does not take showed five examples of that one mistake
    examples: list[str] = field(default_factory=list)
    _kinds: set[tuple[str, str | None]] = field(default_factory=set, repr=False)

    def reject(self, rejection: Rejected) -> None:
        self.rejected[rejection.reason] += 1
        kind = (rejection.reason, rejection.column)
        if len(self.examples) < MAX_EXAMPLES and kind not in self._kinds:
            self._kinds.add(kind)
            self.examples.append(rejection.message())


class HeaderError(ValueError):
    """The file's header lacks columns the mapping reads (or there is no header)."""


def _lines(fh: BinaryIO, encoding: str, seen: Callable[[int], None]) -> Iterator[str | None]:
    """Decoded lines; None for a line too long to keep (its bytes are skipped)."""
    while True:
        line = fh.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        seen(len(line))
        if len(line) > MAX_LINE_BYTES and not line.endswith(b"\n"):
            while True:  # drop the rest of the line, a chunk at a time
                rest = fh.readline(MAX_LINE_BYTES)
                seen(len(rest))
                if not rest or rest.endswith(b"\n"):
                    break
            yield None
            continue
        yield line.decode(encoding, errors="replace")


class _Unclosed(Exception):
    """A row ran past ``MAX_ROW_LINES`` lines (or 1 MiB): a quote opened in it is never
    closed."""


def _unclosed(first: int, at_end: bool) -> str:
    where = "before the end of the file" if at_end else f"within {MAX_ROW_LINES} lines or 1 MiB"
    return (
        f"a quote opened in the row that starts on line {first} is not closed {where}; "
        f"the row is rejected, and reading goes on at line {first + 1}"
    )


def read_rows(
    fh: BinaryIO, mapping: ColumnMap, seen: Callable[[int], None] = lambda n: None
) -> Iterator[tuple[int, dict[str, str] | Rejected, list[str]]]:
    """(line, cells by column, the whole row) per data row, or a rejection for a row that
    is no row; the line is where the row starts.

    A quoted cell may hold line breaks, so a row may span lines, up to ``MAX_ROW_LINES``.
    A quote that is never closed made the rest of the file one cell: 2,591 rows of an
    export vanished into one rejection ("field larger than field limit"). A row that
    runs past that bound, fails to parse, or is cut short by the end of the file with a
    quote still open is rejected on its first line alone, and its other lines are read
    again as rows."""
    lines = _lines(fh, mapping.encoding, seen)
    pending: list[Rejected] = []
    again: deque[tuple[int, str]] = deque()  # lines of a row given up on, read again
    row: list[tuple[int, str]] = []  # (line, text) of the row being read
    count = 0
    ended = False  # the lines ran out while a row was read: it ended inside a quote

    def source() -> Iterator[str]:
        nonlocal count, ended
        while True:
            if again:
                no, text = again.popleft()
            else:
                read = next(lines, _END)
                if read is _END:
                    ended = True
                    return
                count += 1
                no, text = count, read
                if text is None:
                    pending.append(Rejected(no, None, "too_large", "line over 1 MiB", []))
                    continue
            if row and (
                len(row) >= MAX_ROW_LINES
                or sum(len(held) for _, held in row) + len(text) > MAX_LINE_BYTES
            ):
                again.appendleft((no, text))
                raise _Unclosed
            row.append((no, text))  # type: ignore[arg-type]
            yield text  # type: ignore[misc]

    def reader() -> Iterator[list[str]]:
        return csv.reader(source(), delimiter=mapping.delimiter)

    def give_up(detail: str) -> Rejected:
        """Reject the row's first line; its other lines are read again."""
        (first, text), rest = row[0], row[1:]
        again.extendleft(reversed(rest))
        return Rejected(first, None, "invalid_format", detail, [text.rstrip("\r\n")])

    rows = reader()
    try:
        header = next(rows)
    except StopIteration:
        raise HeaderError("the file is empty: no header row") from None
    except _Unclosed:
        raise HeaderError(f"line 1: {_unclosed(1, False)}") from None
    except csv.Error as exc:
        raise HeaderError(f"line 1: {exc}") from exc
    missing = [c for c in mapping.columns() if c not in header]
    if missing:
        raise HeaderError(
            f"no column {', '.join(map(repr, missing))} in the header "
            f"({', '.join(map(repr, header[:20]))})"
        )
    index = {name: header.index(name) for name in mapping.columns()}
    given = mapping.given()  # a constant in every row, for a field the file has no column of
    while True:
        row.clear()
        ended = False
        cells: list[str] | None
        try:
            cells = next(rows)
        except StopIteration:
            break
        except (_Unclosed, csv.Error) as exc:
            detail = str(exc) or _unclosed(row[0][0], False)
            pending.append(
                give_up(detail) if row else Rejected(count, None, "invalid_format", detail, [])
            )
            rows, cells = reader(), None
        else:
            if ended and row:
                # csv asks for a line past the row's end only inside a quote, and at the
                # end of the file it hands back what it read, the quote unclosed
                pending.append(give_up(_unclosed(row[0][0], True)))
                rows, cells = reader(), None
        while pending:
            rejection = pending.pop(0)
            yield rejection.line, rejection, rejection.cells
        if cells is None:
            continue
        if not any(cell.strip() for cell in cells):
            continue  # a blank line between rows
        line_no = row[0][0]
        if len(cells) < len(header):
            short = next(c for c, i in index.items() if i >= len(cells))
            yield (
                line_no,
                Rejected(line_no, short, "missing_field", "the row is short", cells),
                cells,
            )
            continue
        yield line_no, {name: cells[i] for name, i in index.items()} | given, cells
    for rejection in pending:
        yield rejection.line, rejection, rejection.cells


class RowReader:
    """Turns mapped cells into events (complaints, kpis) or values (values)."""

    def __init__(
        self,
        mapping: ColumnMap,
        source: str,
        known_metrics: frozenset[str],
        taxonomy: Taxonomy = DEFAULT_TAXONOMY,
        bounds: TimeBounds | None = None,
    ) -> None:
        self.mapping = mapping
        self.source = source
        self.known_metrics = known_metrics
        self.taxonomy = taxonomy
        self.bounds = bounds
        self.times = TimeReader(
            zone_of(mapping.timezone) if mapping.timezone else None, mapping.time_format
        )

    def convert(
        self, line: int, cells: dict[str, str], raw: list[str]
    ) -> list[Event] | list[Value] | Rejected:
        m = self.mapping
        try:
            when = self.times.epoch_ms(cells[m.time])
        except ValueError as exc:
            return Rejected(line, m.time, "bad_time", str(exc), raw)
        if self.bounds is not None:  # a year 9999 spanned the hourly file over 8,000 years
            window, wall = self.bounds
            why = outside_accepted_times(m.time, when, when, window, wall)
            if why is not None:
                return Rejected(line, m.time, "bad_time", why, raw)
        region = m.recoded("region", cells[m.region].strip())
        if m.kind is Kind.VALUES:
            return self._value(line, cells, raw, region, when)
        payloads: list[tuple[str | None, dict[str, object]]] = []
        if m.kind is Kind.COMPLAINTS:
            assert m.category is not None
            payloads.append(
                (
                    m.category,
                    {
                        "type": "complaint",
                        "id": cells[m.id].strip() if m.id else f"{self.source}:{line}",
                        "event_time": when,
                        "region": region,
                        "category": m.recoded("category", cells[m.category].strip()),
                        "channel": m.recoded(
                            "channel", cells[m.channel].strip() if m.channel else m.default_channel
                        ),
                        **({"text": cells[m.text]} if m.text and cells[m.text] else {}),
                    },
                )
            )
        else:
            site = cells[m.site].strip() if m.site else region
            readings = (
                [(kpi, column) for kpi, column in m.kpi_columns.items() if cells[column].strip()]
                if m.kpi_columns
                else [(cells[m.kpi or ""].strip(), m.value or "")]
            )
            for kpi, column in readings:
                number = _number(cells[column])
                if number is None:
                    return Rejected(
                        line, column, "wrong_type", f"{cells[column]!r} is no number", raw
                    )
                payloads.append(
                    (
                        column,
                        {
                            "type": "kpi",
                            "event_time": when,
                            "region": region,
                            "site": site,
                            "kpi": m.recoded("kpi", kpi),
                            "value": number,
                        },
                    )
                )
        events: list[Event] = []
        for column, payload in payloads:
            parsed = parse_event(
                orjson.dumps(payload), source=self.source, offset=line, taxonomy=self.taxonomy
            )
            if isinstance(parsed, DeadLetter):  # the stream's own verdict and reason
                at = self._column_of(parsed.field) or column
                detail = parsed.detail
                if parsed.field == "region" and parsed.reason is Reason.INVALID_FORMAT:
                    detail = region_refused(region, detail)
                return Rejected(line, at, parsed.reason.value, detail, raw)
            events.append(parsed)
        return events

    def _column_of(self, event_field: str | None) -> str | None:
        """The export's column behind an event's field (a dead letter names the field)."""
        if event_field is None:
            return None
        m = self.mapping
        head = event_field.split(".")[0]
        return {
            "event_time": m.time, "region": m.region, "id": m.id, "category": m.category,
            "channel": m.channel, "text": m.text, "site": m.site, "kpi": m.kpi,
            "value": m.value,
        }.get(head)  # fmt: skip

    def _value(
        self, line: int, cells: dict[str, str], raw: list[str], region: str, when: int
    ) -> list[Value] | Rejected:
        m = self.mapping
        if m.metric is not None:
            column, metric = m.metric, m.recoded("metric", cells[m.metric].strip())
        else:
            assert m.category is not None
            column = m.category
            metric = f"complaints.{m.recoded('category', cells[m.category].strip())}"
        if not REGION.match(region):
            detail = region_refused(region, f"{region!r} is no name ({NAME_RULE})")
            return Rejected(line, m.region, Reason.INVALID_FORMAT.value, detail, raw)
        if metric not in self.known_metrics:
            return Rejected(line, column, "unknown_metric", f"{metric!r} is no known metric", raw)
        assert m.value is not None
        number = _number(cells[m.value])
        if number is None:
            return Rejected(line, m.value, "wrong_type", f"{cells[m.value]!r} is no number", raw)
        return [Value(region, when, metric, number)]


def _number(cell: str) -> float | None:
    try:
        value = float(cell.strip())
    except ValueError:
        return None
    return value if math.isfinite(value) else None
