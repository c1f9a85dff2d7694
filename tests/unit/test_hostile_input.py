"""Hostile input is normal input: one record can never crash, hang or flood the monitor."""

from __future__ import annotations

import time

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from monitor.cli import app
from monitor.config.load import load_config
from monitor.events import parsing
from monitor.events.deadletters import DeadLetter, Reason
from monitor.events.parsing import KEPT_PREFIX, MAX_RECORD_BYTES, parse_event
from monitor.runners.embedded import build, run_lines
from tests.helpers import complaint, kpi
from tests.helpers import region as region_record

DEEP_ARRAY = b"[" * 1025 + b"]" * 1025
DEEP_WITH_NAN = b'{"a": ' * 1100 + b"NaN" + b"}" * 1100  # takes the NaN-tolerant decoder


def good_hours(region: str = "r1", hours: range = range(4)) -> list[bytes]:
    """Complaints and KPI samples of a region's hours, after its region record (regions are
    admitted from the reference data) when the first hour is 00:00."""
    out = [region_record(region, 20_000)] if hours.start == 0 else []
    for h in hours:
        ts = f"2026-10-05T{h:02d}:10:00Z"
        out += [complaint(ts, region=region, id_=f"{region}-{h}"), kpi(ts, 0.3, region=region)]
    return out


@pytest.mark.parametrize("raw", [DEEP_ARRAY, DEEP_WITH_NAN], ids=["array", "nan-fallback"])
def test_deep_nesting_is_a_dead_letter_not_a_recursion_error(raw):
    letter = parse_event(raw, source="f", offset=3)
    assert isinstance(letter, DeadLetter)
    assert letter.reason is Reason.TOO_DEEP and letter.offset == 3 and letter.raw == raw


def test_a_record_over_the_size_limit_keeps_only_a_prefix():
    raw = complaint("2026-10-05T01:00:00Z", text="x" * (MAX_RECORD_BYTES + 10))
    letter = parse_event(raw)
    assert isinstance(letter, DeadLetter) and letter.reason is Reason.TOO_LARGE
    assert letter.raw == raw[:KEPT_PREFIX]
    assert f"{len(raw):,} bytes" in letter.detail


def test_text_with_a_lone_surrogate_is_not_a_crash():
    letter = parse_event('{"type": "complaint", "id": "\ud800"')
    assert isinstance(letter, DeadLetter)


def test_anything_the_parser_raises_becomes_an_unreadable_dead_letter(monkeypatch):
    def explode(*_args: object, **_kwargs: object) -> object:
        raise RuntimeError("a bug a record found")

    monkeypatch.setattr(parsing, "load_json", explode)
    letter = parse_event(b"{}", source="f", offset=9)
    assert isinstance(letter, DeadLetter) and letter.reason is Reason.UNREADABLE
    assert "RuntimeError: a bug a record found" in letter.detail and letter.offset == 9


def test_a_poison_pill_in_a_run_is_counted_and_the_run_goes_on(tmp_path, sqlite_url):
    run = build(load_config(), sqlite_url)
    lines = [*good_hours(hours=range(2)), DEEP_ARRAY, *good_hours(hours=range(2, 5))]
    run_lines(run, lines)
    stats = run.pipeline.stats
    assert stats.dead_lettered == {"too_deep": 1}
    assert stats.accepted + sum(stats.dead_lettered.values()) == len(lines)
    assert stats.aggregates == 5


def test_yujing_run_exits_0_on_a_file_with_a_poison_pill(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_bytes(b"\n".join([*good_hours(), DEEP_ARRAY, DEEP_WITH_NAN]) + b"\n")
    done = CliRunner().invoke(
        app, ["run", str(events), "--db", f"sqlite:///{tmp_path / 't.db'}", "--out", str(tmp_path)]
    )
    assert done.exit_code == 0, done.output
    letters = [orjson.loads(x) for x in (tmp_path / "deadletters.jsonl").read_bytes().splitlines()]
    assert [x["reason"] for x in letters] == ["too_deep", "too_deep"]
    assert [x["offset"] for x in letters] == [10, 11]


@pytest.mark.parametrize(
    "event_time", ["9999-12-31T23:00:00Z", 10**18, 10**30], ids=["year-9999", "1e18", "1e30"]
)
def test_a_far_future_event_is_bad_time_and_the_run_ends_quickly(sqlite_url, event_time):
    run = build(load_config(), sqlite_url)
    future = (
        complaint(0, id_="future").replace(b'"event_time":0', f'"event_time":{event_time}'.encode())
        if isinstance(event_time, int)
        else complaint(event_time, id_="future")
    )
    lines = [*good_hours(hours=range(3)), future]
    lines += good_hours(hours=range(3, 6))
    started = time.monotonic()
    run_lines(run, lines)
    assert time.monotonic() - started < 30  # a hang walked every hour up to year 9999
    stats = run.pipeline.stats
    assert stats.dead_lettered == {"bad_time": 1}
    assert stats.aggregates == 6  # hours 00..05; nothing emitted towards the future
    [letter] = run.dead_letters.letters
    assert letter.field == "event_time" and letter.offset == 8
    assert "ahead of this runner's clock" in letter.detail


def test_an_event_before_the_earliest_accepted_time_is_bad_time(sqlite_url):
    run = build(load_config(), sqlite_url)
    run_lines(run, [*good_hours(), complaint("1970-01-01T00:00:05Z", id_="epoch")])
    [letter] = run.dead_letters.letters
    assert letter.reason is Reason.BAD_TIME and "earliest accepted time" in letter.detail


def test_a_long_silence_is_not_filled_hour_by_hour(sqlite_url):
    """A region silent for a year: its hours with data are closed, not 8,760 empty ones."""
    run = build(load_config(), sqlite_url)
    year_later = [region_record("r1")]
    year_later += [complaint("2025-10-05T01:10:00Z", id_="a"), kpi("2025-10-05T01:10:00Z", 0.3)]
    year_later += [complaint("2026-10-05T01:10:00Z", id_="b"), kpi("2026-10-05T01:10:00Z", 0.3)]
    year_later += [complaint("2026-10-05T02:10:00Z", id_="c"), kpi("2026-10-05T02:10:00Z", 0.3)]
    emitted = []
    run.pipeline.observe(aggregate=emitted.append)
    run_lines(run, year_later)
    hours = sorted(a.hour for a in emitted)
    assert len(hours) <= 2 * 168 + 3
    assert len(hours) == len(set(hours))
    complaints = sum(a.total for a in emitted)
    assert complaints == 3  # nothing lost across the gap


def test_a_late_dead_letter_says_where_it_came_from(sqlite_url):
    run = build(load_config(), sqlite_url)
    lines = [*good_hours(hours=range(6)), complaint("2026-10-05T00:20:00Z", id_="late")]
    run_lines(run, lines, source="events.jsonl")
    [letter] = run.dead_letters.letters
    assert letter.reason is Reason.LATE
    assert (letter.source, letter.offset) == ("events.jsonl", len(lines))


HOSTILE_CONFIGS = {
    "not-utf8": b"windows:\n  allowed_lateness_minutes: 60\n# caf\xe9\n",
    "deep-yaml": b"a: " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "huge": b"# " + b"x" * (2 << 20) + b"\n",
}


@pytest.mark.parametrize("name", list(HOSTILE_CONFIGS))
def test_a_hostile_config_is_rejected_and_the_running_one_kept(tmp_path, name):
    import os

    from monitor.config.reload import ConfigWatcher

    path = tmp_path / "c.yaml"
    path.write_text("windows: {allowed_lateness_minutes: 30}\n")
    running = load_config(path)
    watcher = ConfigWatcher(path, running)
    path.write_bytes(HOSTILE_CONFIGS[name])
    os.utime(path, ns=(2_000_000_000, 2_000_000_000))
    assert watcher.check() is None  # rejected, not raised
    assert watcher.failures == 1 and watcher.current is running
    assert watcher.last_error and "c.yaml" in watcher.last_error


@pytest.mark.parametrize("name", list(HOSTILE_CONFIGS))
def test_config_validate_prints_one_line_per_problem_for_a_hostile_file(tmp_path, name):
    path = tmp_path / "c.yaml"
    path.write_bytes(HOSTILE_CONFIGS[name])
    done = CliRunner().invoke(app, ["config", "validate", str(path)])
    assert done.exit_code == 1
    assert "Traceback" not in done.output
    assert done.output.startswith(str(path))


HOSTILE_LINES = [
    b"",
    b"   ",
    b"not json",
    b'{"type": "complaint"',
    b"[1, 2]",
    DEEP_ARRAY,
    b'{"type": "complaint", "id": "x", "event_time": 1e999}',
    b'{"type": "weather"}',
    b"\xff\xfe\x00garbage",
]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.one_of(
            st.tuples(st.just("good"), st.integers(0, 5), st.integers(0, 8)),
            st.tuples(st.just("bad"), st.integers(0, len(HOSTILE_LINES) - 1), st.just(0)),
            st.tuples(st.just("future"), st.integers(0, 2), st.just(0)),
        ),
        max_size=60,
    )
)
def test_every_line_ends_accepted_duplicate_or_dead_lettered(picks):
    """accepted + duplicates + dead letters == lines in, for any mix of good and hostile
    lines (duplicates by id, late ones, blank ones, far-future ones)."""
    import tempfile
    from pathlib import Path

    lines = [region_record("r1")]
    for kind, a, b in picks:
        if kind == "good":  # a few ids repeat: duplicates; early hours after late ones: late
            lines.append(complaint(f"2026-10-05T{a:02d}:{b * 5:02d}:00Z", id_=f"c{a}-{b % 3}"))
        elif kind == "bad":
            lines.append(HOSTILE_LINES[a])
        else:
            lines.append(complaint(f"{2100 + a}-01-01T00:00:00Z", id_=f"f{a}"))
    with tempfile.TemporaryDirectory() as tmp:
        run = build(load_config(), f"sqlite:///{tmp}/t.db", Path(tmp))
        run_lines(run, lines, source="mix.jsonl")
        stats = run.pipeline.stats
        dead = sum(stats.dead_lettered.values())
        assert stats.events_in == len(lines)
        assert stats.accepted + stats.duplicates + dead == len(lines)
        assert "unknown_region" not in stats.dead_lettered
        written = (Path(tmp) / "deadletters.jsonl").read_bytes().splitlines()
        assert len(written) == dead


def test_invented_regions_stop_at_the_cap_and_are_counted(sqlite_url):
    from monitor.config.load import parse_config

    config = parse_config("windows: {max_regions: 3, admit_regions: any}\n")
    run = build(config, sqlite_url)
    lines = [complaint("2026-10-05T01:00:00Z", region=f"fake-{i}", id_=f"x{i}") for i in range(10)]
    lines += [complaint("2026-10-05T01:05:00Z", region="fake-0", id_="again")]
    run_lines(run, lines)
    stats = run.pipeline.stats
    assert stats.accepted == 4  # three regions, one of them twice
    assert stats.dead_lettered == {"region_cap": 7}
    assert len(run.pipeline.aggregator.regions) == 3
    letter = run.dead_letters.letters[0]
    assert letter.field == "region" and "windows.max_regions is 3" in letter.detail
    exposition = build(config, sqlite_url, metrics=True)
    run_lines(exposition, lines)
    text = exposition.metrics.exposition().decode()
    assert 'yujing_dead_letters_total{reason="region_cap"} 7.0' in text


def test_with_reference_admission_only_known_regions_get_windows(sqlite_url):
    from monitor.config.load import parse_config
    from tests.helpers import region

    run = build(parse_config("windows: {admit_regions: reference}\n"), sqlite_url)
    run_lines(
        run,
        [
            region("r1", 20_000),
            complaint("2026-10-05T01:00:00Z", region="r1", id_="a"),
            complaint("2026-10-05T01:00:00Z", region="typo-r1", id_="b"),
        ],
    )
    assert run.pipeline.stats.dead_lettered == {"unknown_region": 1}
    assert set(run.pipeline.aggregator.regions) == {"r1"}


def test_a_record_that_trips_the_windows_is_a_dead_letter_and_the_run_goes_on(
    sqlite_url, monkeypatch
):
    from monitor.windows.aggregation import RegionWindows

    run = build(load_config(), sqlite_url)
    original = RegionWindows.add

    def trip(self, event, *args, **kwargs):
        if getattr(event, "id", "") == "bomb":
            raise KeyError("a bug only this record finds")
        return original(self, event, *args, **kwargs)

    monkeypatch.setattr(RegionWindows, "add", trip)
    lines = [*good_hours(hours=range(2)), complaint("2026-10-05T02:00:00Z", id_="bomb")]
    run_lines(run, [*lines, *good_hours(hours=range(2, 5))])
    stats = run.pipeline.stats
    assert stats.dead_lettered == {"unreadable": 1} and stats.aggregates == 5
    [letter] = run.dead_letters.letters
    assert "KeyError" in letter.detail and letter.offset == 6
