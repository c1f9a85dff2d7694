"""The intake's check of a raw batch: one pure function, wherever the intake runs.

Validation keeps no state: a batch, the config's vocabulary and time bounds, and the
events-topic partition count decide it. So the intake's own process (``intake_process``)
runs ``check_batch`` as it is, with the rules the worker sends it, and a worker without
that process runs it on its pipeline thread (``WorkerCore.validate``).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from alerts.taxonomy import Taxonomy
from monitor.events.deadletters import DeadLetter, Reason
from monitor.events.parsing import check_records
from monitor.events.schemas import RegionInfo
from monitor.runners.faust.bundles import Record, ValidEvent, encode_safely, partition_for
from monitor.windows.aggregation import WindowConfig, time_out_of_bounds


@dataclass(frozen=True)
class IntakeRules:
    """What a batch's check depends on (picklable: the worker sends it to the intake's
    process when the config changes; it applies from the next batch on)."""

    taxonomy: Taxonomy
    windows: WindowConfig
    partitions: int  # of the events topic
    kinds: Mapping[str, str]  # raw topic -> the kind of event it carries


@dataclass
class Checked:
    """A checked batch: how many records it had, their dead letters in order, and the
    valid ones encoded as bundles by events-topic partition."""

    received: int
    dead: list[DeadLetter] = field(default_factory=list)
    bundles: dict[int, list[bytes]] = field(default_factory=dict)

    def reasons(self) -> Counter[str]:
        """Its dead letters by reason (what the worker's counters keep of them)."""
        return Counter(letter.reason.value for letter in self.dead)


def kind_of(source: str, kinds: Mapping[str, str]) -> str | None:
    """The kind of event a raw record's ``source`` ("topic:partition") carries: its topic
    fixes it (None: a topic of no known kind, where the record's ``type`` decides)."""
    return kinds.get(source.rpartition(":")[0])


def check_batch(records: Sequence[Record], rules: IntakeRules, wall: int) -> Checked:
    """Parse and validate raw records; refuse times outside what the windows accept by the
    ``wall`` clock (before bundling: a time beyond 64 bits would not even fit); bundle the
    valid ones by the partition their region maps to. Region records are reference data,
    read by the worker from their own topic: skipped here."""
    out = Checked(received=len(records))
    grouped: dict[int, list[tuple[bytes, str, int, ValidEvent]]] = {}
    for (value, source, offset), parsed in zip(records, _checked(records, rules), strict=True):
        if isinstance(parsed, DeadLetter):
            out.dead.append(parsed)
            continue
        if parsed.type == "region":  # (not isinstance: an ABC's, slow)
            continue
        event: ValidEvent = parsed  # type: ignore[assignment]
        bad = time_out_of_bounds(
            event, event.event_time, rules.windows, wall, value, source, offset
        )
        if bad is not None:
            out.dead.append(bad)
            continue
        grouped.setdefault(partition_for(event.region, rules.partitions), []).append(
            (value, source, offset, event)
        )
    for partition, items in grouped.items():
        out.bundles[partition], refused = encode_safely(items)
        for value, source, offset, _event in refused:
            detail = "its fields fit no bundle (MessagePack refused them)"
            out.dead.append(DeadLetter(Reason.UNREADABLE, detail, value, None, source, offset))
    return out


def _checked(
    records: Sequence[Record], rules: IntakeRules
) -> list[ValidEvent | RegionInfo | DeadLetter]:
    """Each record's event or dead letter, in the batch's order: checked a source
    ("topic:partition") at a time, whose topic fixes the kind (``check_records``)."""
    at_source: dict[str, list[int]] = {}
    for i, (_value, source, _offset) in enumerate(records):
        at_source.setdefault(source, []).append(i)
    parsed: list[ValidEvent | RegionInfo | DeadLetter] = [None] * len(records)  # type: ignore[list-item]
    for source, at in at_source.items():
        checked = check_records(
            [records[i][0] for i in at],
            kind=kind_of(source, rules.kinds),
            source=source,
            offsets=[records[i][2] for i in at],
            taxonomy=rules.taxonomy,
        )
        for i, event in zip(at, checked, strict=True):
            parsed[i] = event
    return parsed
