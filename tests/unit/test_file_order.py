"""A file of several exports one after the other is replayed in event-time order."""

from __future__ import annotations

import doctest

import orjson
import pytest
from typer.testing import CliRunner

import monitor.runners.file_order
from detectors.timeaxis import DAY_MS, HOUR_MS
from monitor.cli import app
from monitor.runners.embedded import build, run_file
from monitor.runners.file_order import scan
from tests.helpers import T0, complaint, kpi, region
from tests.unit.test_hostile_input import DEEP_ARRAY
from tests.unit.test_pipeline import spike_config


def by_region(weeks: int = 4) -> list[bytes]:
    """r1's export, then r2's: r2's first week is weeks behind the newest event before it;
    r2 has three billing disputes in its second day."""
    lines = [region("r1"), region("r2")]
    for name in ("r1", "r2"):
        for h in range(24 * 7 * weeks):
            at = T0 + h * HOUR_MS + 600_000
            lines += [complaint(at, region=name, id_=f"{name}-{h}"), kpi(at, 0.5, region=name)]
            if name == "r2" and h == 30:
                lines += [
                    complaint(at + k, region=name, category="billing_dispute", id_=f"s{k}")
                    for k in range(3)
                ]
    return lines


def test_the_docstring_example_runs():
    result = doctest.testmod(monitor.runners.file_order)
    assert result.attempted > 0 and result.failed == 0


def test_a_file_written_region_by_region_is_judged_as_one_in_time_order(tmp_path, sqlite_url):
    """Read in line order, r2's hours closed after the series' history had moved past its
    first weeks: its billing spike opened no ticket."""
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(by_region()) + b"\n")
    order = scan(path)
    assert order.disorder is not None and order.disorder.region == "r2"
    assert order.disorder.days_behind == 28.0
    run = run_file(build(spike_config(), sqlite_url), path)
    assert not run.pipeline.stats.dead_lettered
    assert [(t.region, t.metric) for t in run.tickets.all()] == [
        ("r2", "complaints.billing_dispute")
    ]


def test_the_replay_says_it_reordered_the_file_and_dead_letters_keep_their_lines(tmp_path):
    lines = by_region(weeks=2)
    lines.insert(len(lines) - 5, DEEP_ARRAY)  # near the end of the file
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    done = CliRunner().invoke(
        app, ["run", str(path), "--db", f"sqlite:///{tmp_path / 't.db'}", "--out", str(tmp_path)]
    )
    assert done.exit_code == 0, done.output
    assert "events.jsonl is not in time order: line 675 (region r2) is 14.0 days" in " ".join(
        done.output.split()
    )
    [letter] = [orjson.loads(x) for x in (tmp_path / "deadletters.jsonl").read_bytes().splitlines()]
    assert letter["reason"] == "too_deep" and letter["offset"] == len(lines) - 5


def test_a_recorded_streams_late_events_keep_their_place(tmp_path):
    """Hours late is what the windows' lateness is for; the live worker took them there."""
    lines = [complaint(T0 + h * HOUR_MS, id_=str(h)) for h in range(48)]
    lines += [complaint(T0 + 47 * HOUR_MS - 20 * HOUR_MS, id_=f"late{k}") for k in range(30)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines))
    order = scan(path)
    assert order.disorder is None and order.lines == len(lines)
    assert [n for n, _ in order.numbered()] == list(range(1, len(lines) + 1))


def test_one_line_with_a_mistyped_year_does_not_reorder_the_file(tmp_path, sqlite_url):
    """A wrong time, not an export: read in line order it is late, as it would be live."""
    lines = [region("r1"), *(complaint(T0 + h * HOUR_MS, id_=str(h)) for h in range(48))]
    lines.insert(30, complaint(T0 - 365 * DAY_MS, id_="typo"))
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines))
    assert scan(path).disorder is None
    run = run_file(build(spike_config("windows: {inputs: [complaint]}"), sqlite_url), path)
    assert run.pipeline.stats.dead_lettered == {"late": 1}


def test_lines_that_are_not_events_come_first_and_nothing_is_lost(tmp_path, sqlite_url):
    bad = [DEEP_ARRAY, b"\xff\xfe", b"", b'{"event_time": 1e400}', b"[1, 2]", b'{"type": 7}']
    lines = by_region(weeks=1) + bad
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines))
    order = scan(path)
    numbers = [n for n, _ in order.numbered()]
    assert sorted(numbers) == list(range(1, len(lines) + 1))
    assert numbers[:8] == [1, 2, *range(len(lines) - 5, len(lines) + 1)]  # regions, then bad
    run = run_file(build(spike_config(), sqlite_url), path)
    stats = run.pipeline.stats
    assert stats.accepted + sum(stats.dead_lettered.values()) == len(lines)
    assert sum(stats.dead_lettered.values()) == len(bad)


def test_a_pipe_is_replayed_as_it_comes(tmp_path, sqlite_url):
    """A pipe (``yujing run /dev/stdin``, ``<(cat a b)``) can be read once: a scan for the
    order would leave nothing to replay."""
    import os
    import threading

    lines = by_region(weeks=1)
    fifo = tmp_path / "events"
    os.mkfifo(fifo)

    def write() -> None:
        with fifo.open("wb") as fh:
            fh.write(b"\n".join(lines) + b"\n")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    order = scan(fifo)
    assert order.lines is None and order.disorder is None
    run = run_file(build(spike_config(), sqlite_url), fifo, order=order)
    writer.join(timeout=30)
    assert run.pipeline.stats.accepted == len(lines)


@pytest.mark.parametrize("stopped", ["its kpis", "everything"])
def test_a_region_whose_export_stops_shows_its_silence_in_a_replayed_file(
    tmp_path, sqlite_url, stopped
):
    """A live worker finds an input idle by the wall clock. A replay had no clock: a
    region whose KPI export (or whole export) stopped had its hours closed at the
    replay's end, after the series' history had moved past them, and no silence ticket
    opened. A file, read in time order, follows its own clock: silent for a day of it,
    an input is idle."""
    from monitor.config.load import parse_config

    config = parse_config(
        """
detectors:
  - id: kpi-feed-silent
    detector: silence
    metrics: [kpi.packet_loss.readings]
    params: {min_hours: 2, min_drop: 0.9}
""",
        "silent.yaml",
    )
    lines = [region("r1"), region("r2")]
    for h in range(24 * 28):
        at = T0 + h * HOUR_MS + 600_000
        for name in ("r1", "r2"):
            if name == "r2" and h >= 24 * 7 and stopped == "everything":
                continue
            lines.append(complaint(at, region=name, id_=f"{name}-{h}"))
            if name == "r1" or h < 24 * 7:
                lines += [kpi(at, 0.3, region=name, site=f"{name}-s{k}") for k in (1, 2)]
    path = tmp_path / "events.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    run = run_file(build(config, sqlite_url), path)
    assert run.pipeline.series.history_hours < 24 * 21  # the replay outlives it
    [ticket] = run.tickets.all()
    assert ticket.region == "r2" and ticket.metric == "kpi.packet_loss.readings"
    assert T0 + 24 * 7 * HOUR_MS <= ticket.first_hour <= T0 + 24 * 9 * HOUR_MS
    # the backtest of the file, the same
    from monitor.lab.backtest import run_backtest

    [tested] = run_backtest(config, scan(path), []).tickets
    assert (tested.region, tested.first_hour) == (ticket.region, ticket.first_hour)


class _Chunks:
    """A file that records the largest piece any read asked of it."""

    def __init__(self, data: bytes) -> None:
        import io

        self.inner, self.largest = io.BytesIO(data), 0

    def readline(self, size: int = -1) -> bytes:
        line = self.inner.readline(size)
        self.largest = max(self.largest, len(line))
        return line


@pytest.mark.parametrize("ending", [b"\n", b"\r\n"])
def test_a_line_over_the_record_limit_is_never_read_whole(tmp_path, sqlite_url, ending):
    """A 300 MB line was read whole, twice over, to be dead-lettered as too large (750 MB
    RSS). A reader keeps at most the limit of any line: the rest of one that long is
    skipped a chunk at a time, and its dead letter still tells its size and line, in a
    file replayed in line order and in one reordered alike."""
    from monitor.events.parsing import MAX_RECORD_BYTES, TooLarge
    from monitor.runners.file_order import MAX_LINE, read_lines

    huge = b'{"type": "complaint", "text": "' + b"x" * (3 * MAX_RECORD_BYTES) + b'"}'
    chunks = _Chunks(b"a\n" + huge + ending + b"b" + ending)
    got = list(read_lines(chunks))  # type: ignore[arg-type]
    assert got[0] == b"a\n" and got[2] == b"b" + ending
    assert got[1] == TooLarge(huge[:4096], len(huge), len(huge) + len(ending))
    assert chunks.largest <= MAX_LINE + 1
    for lines in (by_region(weeks=2), [region("r1"), complaint(T0, id_="c1")]):
        at = max(len(lines) - 3, 0)
        lines.insert(at, huge)
        path = tmp_path / "events.jsonl"
        path.write_bytes(ending.join(lines) + ending)
        order = scan(path)
        assert [type(line) for _n, line in order.numbered()].count(TooLarge) == 1
        run = build(spike_config(), sqlite_url)
        run_file(run, path, order=order)
        [letter] = run.dead_letters.letters
        assert letter.reason.value == "too_large" and letter.offset == at + 1
        assert letter.detail.startswith(f"{len(huge):,} bytes, over the")
        assert run.pipeline.stats.accepted == len(lines) - 1  # every other line
