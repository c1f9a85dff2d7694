"""`yujing import csv`: an operator's export in; every row accepted or rejected with its
line, column and reason; the events it writes are what the pipeline accepts."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import orjson
import pytest

from monitor.config.load import load_config
from monitor.config.model import KNOWN_METRICS
from monitor.detection.hourly_file import HourlySeries
from monitor.importers.csv_import import import_csv, read_regions
from monitor.importers.csv_rows import MAX_LINE_BYTES, HeaderError
from monitor.importers.mapping import ColumnMap, load_mapping
from monitor.runners.embedded import build, run_lines

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


def test_the_documented_crm_example_imports_and_replays(tmp_path):
    mapping = load_mapping(EXAMPLES / "crm-mapping.yaml", {})
    out, rejects = tmp_path / "events.jsonl", tmp_path / "rejects.csv"
    regions = read_regions(EXAMPLES / "regions.csv")
    report = import_csv(
        EXAMPLES / "crm-complaints.csv", mapping, out, rejects, KNOWN_METRICS, regions
    )
    assert (report.rows, report.accepted) == (8, 6)
    assert dict(report.rejected) == {"bad_time": 1, "unknown_category": 1}
    lines = rejects.read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith("7,受理时间,bad_time,'昨天下午' is not a time")
    assert lines[2].startswith("8,问题分类,unknown_category,")
    assert lines[2].endswith("T-0007,2026-10-05 22:02:00,north-01,外星人,热线,")
    run = build(load_config(), "sqlite://")
    aggregates = []
    run.pipeline.observe(aggregate=aggregates.append)
    with out.open("rb") as fh:
        run_lines(run, fh)
    assert not run.pipeline.stats.dead_lettered, run.dead_letters.letters[:1]
    assert sum(a.total for a in aggregates) == 6
    # 20:15 local (UTC+8) is 12:00-13:00 UTC: the zone was applied, not guessed
    first = min(a.hour for a in aggregates)
    assert first % 86_400_000 == 12 * 3_600_000


def test_a_time_without_offset_is_rejected_unless_the_zone_is_given(tmp_path):
    source = tmp_path / "c.csv"
    source.write_text("time,region,category\n2026-10-05 20:15:03,r1,weak_signal\n")
    mapping = ColumnMap(kind="complaints", category="category")
    report = import_csv(source, mapping, tmp_path / "e.jsonl", tmp_path / "r.csv", KNOWN_METRICS)
    assert dict(report.rejected) == {"bad_time": 1}
    assert "--assume-timezone" in report.examples[0]
    zoned = mapping.model_copy(update={"timezone": "+08:00"})
    report = import_csv(source, zoned, tmp_path / "e.jsonl", tmp_path / "r.csv", KNOWN_METRICS)
    assert report.accepted == 1
    assert b'"event_time":1791202503000' in (tmp_path / "e.jsonl").read_bytes()


def test_aggregated_values_make_the_hourly_file(tmp_path):
    source = tmp_path / "v.csv"
    source.write_text(
        "time,region,metric,value\n"
        "2026-10-05T20:00:00Z,r1,complaints.total,3\n"
        "2026-10-05T20:30:00Z,r1,complaints.total,4\n"  # counts of one hour add up
        "2026-10-05T20:00:00Z,r1,kpi.packet_loss.max,0.5\n"
        "2026-10-05T20:30:00Z,r1,kpi.packet_loss.max,0.9\n"  # maxima take the largest
        "2026-10-05T22:00:00Z,r1,kpi.packet_loss.mean,0.2\n"
        "2026-10-05T22:10:00Z,r1,kpi.packet_loss.mean,0.4\n"  # the rest is averaged
        "2026-10-05T22:00:00Z,r1,complaints.totl,1\n"
    )
    mapping = ColumnMap(kind="values", metric="metric", value="value")
    out = tmp_path / "h.npz"
    report = import_csv(source, mapping, out, tmp_path / "r.csv", KNOWN_METRICS)
    assert dict(report.rejected) == {"unknown_metric": 1}
    with np.load(out) as data:
        assert int(data["first_hour"]) % 3_600_000 == 0
        total = data["metric:complaints.total"][0]
        assert total[0] == 7 and np.isnan(total[2])
        assert data["metric:kpi.packet_loss.max"][0][0] == pytest.approx(0.9)
        assert data["metric:kpi.packet_loss.mean"][0][2] == pytest.approx(0.3)


def test_a_file_per_series_names_its_region_and_metric_once(tmp_path):
    """A KPI tool's export of one series (NAB's nyc_taxi.csv: timestamp,value) had to be
    edited by hand to get a region and a metric column; they are given once instead."""
    source = tmp_path / "nyc_taxi.csv"
    source.write_text(
        "timestamp,value\n2014-07-01 00:00:00,10844\n2014-07-01 00:30:00,8127\n"
        "2014-07-01 01:00:00,6210\n"
    )

    def yujing(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor.cli", "import", "csv", str(source), "--kind",
             "values", "--time", "timestamp", "--value", "value", "--assume-timezone",
             "+00:00", *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    out = tmp_path / "taxi.npz"
    done = yujing("--constant", "region=nyc_taxi", "--constant", "metric=complaints.total",
                  "-o", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "3 rows, 3 accepted, 0 rejected" in done.stdout
    # the bar counts the file's bytes, and says so (it read "88/88", as if rows)
    size = source.stat().st_size
    assert f"{size}/{size} bytes" in done.stderr, done.stderr
    with np.load(out) as data:
        assert list(data["regions"]) == ["nyc_taxi"]
        assert list(data["metric:complaints.total"][0]) == [10844 + 8127, 6210]
    refused = yujing("--constant", "regoin=nyc_taxi", "-o", str(out))
    assert refused.returncode == 2 and "constants: no field regoin" in refused.stderr
    refused = yujing("--constant", "region", "-o", str(out))
    assert refused.returncode == 2 and "'region' is not FIELD=VALUE" in refused.stderr
    # a mapping file's constants and the flags' join
    mapping = tmp_path / "m.yaml"
    mapping.write_text("constants: {metric: complaints.total}\n")
    joined = load_mapping(mapping, {"kind": "values", "value": "value",
                                    "constants": {"region": "nyc_taxi"}})  # fmt: skip
    assert joined.constants == {"metric": "complaints.total", "region": "nyc_taxi"}
    assert "region" not in joined.columns() and "metric" not in joined.columns()


def test_hostile_rows_are_rejected_and_the_rest_still_imported(tmp_path):
    source = tmp_path / "h.csv"
    with source.open("wb") as fh:
        fh.write(b"time,region,category\n")
        fh.write(b"2026-10-05T20:00:00Z,r1,weak_signal\n")
        fh.write(b"2026-10-05T20:00:00Z,r1," + b"x" * (MAX_LINE_BYTES + 10) + b"\n")
        fh.write(b'2026-10-05T20:00:00Z,"r1 \n still the region",weak_signal\n')
        fh.write(b"\xff\xfe,\x00,\n")
        fh.write(b"2026-10-05T20:00:00Z,r1,weak_signal\n")
    mapping = ColumnMap(kind="complaints", category="category")
    report = import_csv(source, mapping, tmp_path / "e.jsonl", tmp_path / "r.csv", KNOWN_METRICS)
    assert report.rows == 5 and report.accepted == 2
    assert report.rejected["too_large"] == 1
    assert sum(report.rejected.values()) == 3
    assert (tmp_path / "e.jsonl").read_bytes().count(b"\n") == 2


@pytest.mark.parametrize("at", [10, 998])  # a quote opened mid-file, and one the file ends in
def test_an_unclosed_quote_costs_its_row_not_the_rows_after_it(tmp_path, at):
    """One stray quote made the rest of an export one cell: 2,591 of 20,000 rows
    vanished into a single "field larger than field limit" rejection."""
    source = tmp_path / "q.csv"
    rows = ["id,time,region,category,text"]
    for i in range(1000):
        quote = '"' if i == at else ""
        rows.append(f"{quote}c{i},2026-10-05T20:00:00Z,r1,weak_signal,slow")
    rows[3] = 'c2,2026-10-05T20:00:00Z,r1,weak_signal,"slow\nsince Monday, "" he says"'
    source.write_text("\n".join(rows) + "\n")
    mapping = ColumnMap(kind="complaints", category="category", id="id", text="text")
    out, rejects = tmp_path / "e.jsonl", tmp_path / "r.csv"
    report = import_csv(source, mapping, out, rejects, KNOWN_METRICS)
    assert (report.rows, report.accepted) == (1000, 999), report
    assert dict(report.rejected) == {"invalid_format": 1}
    line = at + 3  # the header, and the quoted cell's second line
    assert report.examples[0].startswith(f"line {line}: invalid_format: a quote opened")
    assert f"reading goes on at line {line + 1}" in report.examples[0]
    ids = [orjson.loads(e)["id"] for e in out.read_bytes().splitlines()]
    assert ids == [f"c{i}" for i in range(1000) if i != at]
    said = orjson.loads(out.read_bytes().splitlines()[2])  # a line break in a cell is kept
    assert said["text"] == 'slow\nsince Monday, " he says'
    assert f"{line},,invalid_format," in rejects.read_text()


def test_a_header_with_an_unclosed_quote_is_one_error(tmp_path):
    source = tmp_path / "h.csv"
    source.write_text('time,"region,category\n' + "2026-10-05T20:00:00Z,r1,weak_signal\n" * 200)
    with pytest.raises(HeaderError, match=r"line 1: a quote opened"):
        import_csv(
            source, ColumnMap(kind="complaints", category="category"),
            tmp_path / "e.jsonl", tmp_path / "r.csv", KNOWN_METRICS,
        )  # fmt: skip


def test_a_header_without_the_mapped_columns_is_one_error(tmp_path):
    source = tmp_path / "c.csv"
    source.write_text("when,where\n")
    with pytest.raises(HeaderError, match=r"no column 'time', 'region', 'category'"):
        import_csv(
            source, ColumnMap(kind="complaints", category="category"),
            tmp_path / "e.jsonl", tmp_path / "r.csv", KNOWN_METRICS,
        )  # fmt: skip


def test_the_command_says_what_is_wrong_in_one_line(tmp_path):
    def yujing(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor.cli", "import", "csv", *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    example = str(EXAMPLES / "crm-complaints.csv")
    done = yujing(example, "--kind", "complaints", "-o", str(tmp_path / "e.jsonl"))
    assert done.returncode == 2 and "category column" in done.stderr
    done = yujing(
        example, "--kind", "complaints", "--category", "问题分类", "-o", str(tmp_path / "e.jsonl")
    )
    assert done.returncode == 2 and "no column 'time', 'region'" in done.stderr
    done = yujing(example, "--mapping", str(EXAMPLES / "crm-mapping.yaml"), "-o", "x.txt")
    assert done.returncode == 2 and "complaints are written to a .jsonl or .npz" in done.stderr
    done = yujing(
        example, "--mapping", str(EXAMPLES / "crm-mapping.yaml"),
        "--assume-timezone", "Mars/Olympus", "-o", str(tmp_path / "e.jsonl"),
    )  # fmt: skip
    assert done.returncode == 2 and "unknown time zone 'Mars/Olympus'" in done.stderr
    done = yujing(
        example, "--mapping", str(EXAMPLES / "crm-mapping.yaml"),
        "--regions", str(EXAMPLES / "regions.csv"), "-o", str(tmp_path / "e.jsonl"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "8 rows, 6 accepted, 2 rejected" in done.stdout
    assert "Traceback" not in done.stderr


def test_complaints_counted_into_the_hourly_file_next_to_a_kpi(tmp_path):
    mapping = load_mapping(EXAMPLES / "crm-mapping.yaml", {})
    out = tmp_path / "hourly.npz"
    regions = read_regions(EXAMPLES / "regions.csv")
    import_csv(
        EXAMPLES / "crm-complaints.csv", mapping, out, tmp_path / "r.csv", KNOWN_METRICS, regions
    )
    kpi = tmp_path / "kpi.csv"
    kpi.write_text(
        "time,region,metric,value\n2026-10-05T14:00:00Z,north-03,kpi.packet_loss.mean,0.4\n"
    )
    values = ColumnMap(kind="values", metric="metric", value="value")
    import_csv(kpi, values, out, tmp_path / "r2.csv", KNOWN_METRICS)
    series = HourlySeries.load(out, known=KNOWN_METRICS)
    assert series.regions == ["north-01", "north-02", "north-03"]
    total = series.values["complaints.total"]
    # 12:00-14:00 UTC: north-01 had 2, 1, 1; north-02 none, 2, none (counted: 0, not unknown)
    assert total[0].tolist() == [2, 1, 1] and total[1].tolist() == [0, 2, 0]
    assert np.isnan(total[2]).all(), "north-03 is in the KPI file only"
    assert series.values["complaint_rate.total"][0][0] == pytest.approx(2 * 10_000 / 120_000)
    assert np.isnan(series.values["kpi.packet_loss.mean"][:2]).all()
    assert series.values["kpi.packet_loss.mean"][2][2] == pytest.approx(0.4)


def test_a_region_name_yujing_does_not_take_says_how_to_map_it(tmp_path):
    """A CRM export naming its regions in Chinese had every row rejected, five examples of
    the one mistake shown, and its region records written as they were (every replay
    would dead-letter them): the rule said "letters", and 西区 is one."""
    source = tmp_path / "c.csv"
    source.write_text(
        "time,region,category\n"
        "2026-10-05T20:15:03Z,西区,weak_signal\n"
        "2026-10-05T20:15:03Z,西区,weak_signal\n"
        "2026-10-05T20:15:03Z,东区,weak_signal\n"
        "2026-10-05T20:15:03Z,west,no_such_category\n",
        encoding="utf-8",
    )
    mapping = ColumnMap(kind="complaints", category="category")
    report = import_csv(source, mapping, tmp_path / "e.jsonl", tmp_path / "r.csv", KNOWN_METRICS)
    assert dict(report.rejected) == {"invalid_format": 3, "unknown_category": 1}
    assert len(report.examples) == 2  # one of each kind of mistake
    assert "ASCII letters" in report.examples[0]
    assert 'recode: {region: {"西区": <name>}}' in report.examples[0]
    regions = tmp_path / "regions.csv"
    regions.write_text("region,subscribers\n西区,120000\n东区,80000\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 3: region: '东区' is no name .*recode"):
        read_regions(regions, {"西区": "west"})
    recoded = read_regions(regions, {"西区": "west", "东区": "east"})
    assert recoded == {"west": 120_000, "east": 80_000}
    mapped = mapping.model_copy(update={"recode": {"region": {"西区": "west", "东区": "east"}}})
    out = tmp_path / "e.jsonl"
    report = import_csv(source, mapped, out, tmp_path / "r.csv", KNOWN_METRICS, recoded)
    assert report.accepted == 3
    run = build(load_config(), "sqlite://")
    with out.open("rb") as fh:
        run_lines(run, fh)
    assert not run.pipeline.stats.dead_lettered, run.dead_letters.letters[:1]
    regions.write_text("region,subscribers\nwest,0\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"line 2: subscribers: .*greater than 0"):
        read_regions(regions)


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (b"region,subscribers\nwest,5\n" + b"x" * 200_000 + b",5\n", "line 3: field larger"),
        (b"region,subscribers\n\xff\xfe,5\n", "not UTF-8 (invalid start byte at byte 19)"),
        (b"region,subscribers\nwest,5,\n", ""),  # an extra empty cell: still the row
        (b"name,count\nwest,5\n", "needs the columns region,subscribers"),
        (b"", "needs the columns region,subscribers"),
    ],
)
def test_a_hostile_regions_file_is_one_error_naming_its_line(tmp_path, content, says):
    """A field over the csv module's limit raised csv.Error through the command: a
    traceback instead of a line saying what is wrong."""
    regions = tmp_path / "regions.csv"
    regions.write_bytes(content)
    if not says:
        assert read_regions(regions) == {"west": 5}
        return
    with pytest.raises(ValueError, match=re.escape(says)):
        read_regions(regions)


def test_a_slipped_year_is_rejected_and_never_spans_the_hourly_file(tmp_path):
    """Two rows, one dated 9999 by a slip, wrote a 280 MB hourly file (8,000 years of
    hours) and took 640 MB; a 1970 one the stream would dead-letter was accepted too.
    Rows are bounded as the stream bounds events; a span still too large is refused
    before it is allocated, with the rows to look at."""
    from detectors.timeaxis import from_iso
    from monitor.detection.hourly_file import TooManyValues
    from monitor.importers.csv_rows import TimeBounds

    bounds = TimeBounds(load_config().windows.to_window_config(), from_iso("2026-10-02T00:00Z"))
    source = tmp_path / "v.csv"
    source.write_text(
        "time,value\n2026-10-01T10:00:00+08:00,5\n9999-10-01T10:00:00+08:00,7\n"
        "1970-01-01T00:00:00Z,3\n"
    )
    mapping = ColumnMap(kind="values", value="value", constants={"region": "north",
                        "metric": "complaints.total"})  # fmt: skip
    out, rejects = tmp_path / "v.npz", tmp_path / "r.csv"
    report = import_csv(source, mapping, out, rejects, KNOWN_METRICS, bounds=bounds)
    assert (report.accepted, dict(report.rejected)) == (1, {"bad_time": 2})
    said = rejects.read_text()
    assert "9999-10-01T02:00:00+00:00 is 69,889,850.0 h ahead of this runner" in said
    assert "before the earliest accepted time" in said
    assert out.stat().st_size < 10_000
    # within the bounds, a stray row 25 years back for 2,000 regions: refused whole
    rows = "".join(f"2026-10-01T10:00:00+08:00,r{r},5\n" for r in range(2_000))
    source.write_text(f"time,region,value\n{rows}2001-10-01T10:00:00+08:00,r7,7\n")
    mapping = ColumnMap(kind="values", value="value", region="region",
                        constants={"metric": "complaints.total"})  # fmt: skip
    with pytest.raises(TooManyValues, match=r"2001-10-01T02:00:00\+00:00 \(line 2002\)"):
        import_csv(source, mapping, tmp_path / "w.npz", rejects, KNOWN_METRICS, bounds=bounds)
    assert not (tmp_path / "w.npz").exists()


def test_an_hourly_file_is_sized_from_its_headers_before_it_is_read(tmp_path):
    """A compressed member inflates: its declared shape is judged before a byte of it is
    read (a 40 GB array in a small file), and two files merged far apart likewise."""
    import zipfile

    from monitor.detection.hourly_file import HourlyFileError, TooManyValues

    bomb = tmp_path / "bomb.npz"
    with zipfile.ZipFile(bomb, "w") as z:
        for name, array in (("regions", np.asarray(["r1"])), ("first_hour", np.int64(0))):
            with z.open(f"{name}.npy", "w") as fh:
                np.lib.format.write_array(fh, np.asanyarray(array))
        with z.open("metric:complaints.total.npy", "w") as fh:
            header = {"descr": "<f4", "fortran_order": False, "shape": (100_000, 100_000)}
            np.lib.format.write_array_header_1_0(fh, header)
    with pytest.raises(TooManyValues, match="10,000,000,000 values"):
        HourlySeries.load(bomb)
    hour = 3_600_000
    a = HourlySeries(["r1"], 0, {"complaints.total": np.ones((1, 2))})
    far = HourlySeries([f"r{i}" for i in range(2_000)], 150_000 * hour,
                       {"complaints.total": np.ones((2_000, 2))})  # fmt: skip
    with pytest.raises(HourlyFileError, match="the two files together span 150,002 hours"):
        a.merged(far)
