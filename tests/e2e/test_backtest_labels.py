"""`yujing backtest --labels` with NAB-style windows over hourly data: detections are
scored as NAB does, the NOC played is said, and a malformed labels file is one line."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import orjson

from detectors.timeaxis import HOUR_MS, to_iso
from monitor.detection.hourly_file import HourlySeries
from tests.domain import T0


def yujing(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def test_nab_windows_over_hourly_data_are_scored(tmp_path):
    rng = np.random.default_rng(4)
    hours = 6 * 168
    daily = 1.0 + 0.5 * np.sin(np.arange(hours) / 24 * 2 * np.pi)
    values = rng.poisson(40 * daily, (2, hours)).astype(np.float32)
    values[0, 900] = 900.0  # a burst inside the labelled window of series "a"
    first = T0 - T0 % (24 * HOUR_MS)
    HourlySeries(["a", "b"], first, {"complaints.total": values}).save(tmp_path / "h.npz")
    start, end = first + 895 * HOUR_MS, first + 910 * HOUR_MS
    windows = {"a.csv": [[to_iso(start), to_iso(end)]], "b": []}
    (tmp_path / "windows.json").write_bytes(orjson.dumps(windows))
    done = yujing(
        "backtest", "--hourly", str(tmp_path / "h.npz"),
        "--labels", str(tmp_path / "windows.json"), "--noc", "unattended", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    quality = orjson.loads(done.stdout)["quality"]
    assert quality["noc"] == "unattended"
    assert quality["events"]["caught"] == 1 and quality["events"]["events"] == 1
    assert quality["nab"]["standard"] > 50
    assert "burst" in quality["per_detector"]


def test_a_malformed_labels_file_is_one_line(tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text('{"a": [[1, 2, 3]]}')
    series = tmp_path / "h.npz"
    HourlySeries(["a"], T0, {"complaints.total": np.zeros((1, 48), np.float32)}).save(series)
    done = yujing("backtest", "--hourly", str(series), "--labels", str(bad))
    assert done.returncode == 2
    assert "expected [start, end] or a time" in done.stderr
    assert "Traceback" not in done.stderr


def _burst_file(tmp_path) -> tuple:
    rng = np.random.default_rng(5)
    values = rng.poisson(40, (1, 4 * 168)).astype(np.float32)
    values[0, 600] = 900.0
    first = T0 - T0 % (24 * HOUR_MS)
    path = tmp_path / "h.npz"
    HourlySeries(["a"], first, {"complaints.total": values}).save(path)
    return path, first + 600 * HOUR_MS


def test_json_lists_tickets_and_detections_and_the_db_keeps_them(tmp_path):
    path, burst = _burst_file(tmp_path)
    db = f"sqlite:///{tmp_path / 'kept.db'}"
    done = yujing(
        "backtest", "--hourly", str(path), "--json", "--db", db,
        "--findings", str(tmp_path / "f.jsonl"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    doc = orjson.loads(done.stdout)
    [ticket] = [t for t in doc["ticket_list"] if t["detector"] == "burst"]
    assert ticket["opened_hour"] == to_iso(burst)
    assert "900 this hour" in ticket["explanation"]
    assert {"hour": to_iso(burst), "event": "opened"}.items() <= doc["detection_list"][0].items()
    lines = [orjson.loads(x) for x in (tmp_path / "f.jsonl").read_bytes().splitlines()]
    assert len(lines) == doc["findings"] >= 1
    assert any(f["hour"] == to_iso(burst) and f["detector"] == "burst" for f in lines)
    shown = yujing("tickets", "show", str(ticket["id"]), "--db", db)
    assert shown.returncode == 0 and "burst" in shown.stdout, shown.stderr
    again = yujing("backtest", "--hourly", str(path), "--db", db)
    assert again.returncode == 2 and "already holds" in again.stderr


def test_a_wrong_hourly_file_is_one_line_naming_the_problem(tmp_path):
    first = T0 - T0 % HOUR_MS
    cases = {
        "typo.npz": (
            HourlySeries(["a"], first, {"complaints.totl": np.zeros((1, 48), np.float32)}),
            "unknown metric 'complaints.totl' (did you mean 'complaints.total'?); known: "
            "complaint_rate.{billing_dispute,",
        ),
        "offset.npz": (
            HourlySeries.__new__(HourlySeries),
            "is not the start of an hour",
        ),
    }
    offset = cases["offset.npz"][0]
    offset.regions, offset.first_hour = ["a"], first + 1_800_000
    offset.values = {"complaints.total": np.zeros((1, 48), np.float32)}
    (tmp_path / "text.npz").write_text("time,region,value\n")
    cases["text.npz"] = (None, "not an hourly .npz file")
    for name, (series, message) in cases.items():
        if series is not None:
            series.save(tmp_path / name)
        done = yujing("backtest", "--hourly", str(tmp_path / name))
        assert done.returncode == 2, (name, done.stderr)
        said = " ".join(done.stderr.split())
        assert message in said, (name, done.stderr)
        assert "Traceback" not in said and len(said) < 600


def test_a_series_too_young_says_how_much_history_its_spec_needs(tmp_path):
    # ten days of a region: its drops are judged once two weeks are known, and the run
    # said only "too little history yet: drops 1", leaving the operator to guess how long
    rng = np.random.default_rng(5)
    values = rng.poisson(300, (1, 10 * 24)).astype(np.float32)
    first = T0 - T0 % (24 * HOUR_MS)
    HourlySeries(["a"], first, {"complaints.total": values}).save(tmp_path / "h.npz")
    done = yujing("backtest", "--hourly", str(tmp_path / "h.npz"))
    assert done.returncode == 0, done.stderr[-2000:]
    said = done.stdout.replace("\n    ", " ")  # (its continuation lines)
    [line] = [x for x in said.splitlines() if "too little history yet" in x]
    assert "drops 1 (needs 14 days)" in line, line
    assert "complaint-bursts" not in line, line  # judged from the third day


def test_a_re_fire_is_scored_for_the_detector_that_fired_it(tmp_path):
    # one series, one ticket: opened by a burst, re-fired days later by a week-over-week
    # rise (a staffed NOC keeps it open). The per-detector scores credited the rise to the
    # burst that had opened the ticket.
    rng = np.random.default_rng(6)
    values = rng.poisson(40, (1, 5 * 168)).astype(np.float32)
    values[0, 600:] = rng.poisson(60, 5 * 168 - 600)  # from here on half as many again
    values[0, 500] = 900.0
    first = T0 - T0 % (24 * HOUR_MS)
    metric = "complaints.unclear_terms"
    HourlySeries(["a"], first, {metric: values}).save(tmp_path / "h.npz")
    rise = first + 600 * HOUR_MS
    windows = {"a": [[to_iso(rise), to_iso(rise + 5 * 24 * HOUR_MS)]]}
    (tmp_path / "windows.json").write_bytes(orjson.dumps(windows))
    done = yujing(
        "backtest", "--hourly", str(tmp_path / "h.npz"), "--labels",
        str(tmp_path / "windows.json"), "--noc", "staffed", "--json",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    doc = orjson.loads(done.stdout)
    [ticket] = doc["ticket_list"]
    assert ticket["detector"] == "burst"
    detections = {(d["event"], d["detector"]) for d in doc["detection_list"]}
    assert ("refired", "wow") in detections, detections
    per = doc["quality"]["per_detector"]
    assert per["wow"]["caught"] == 1, per
    assert per["burst"]["caught"] == 0, per


def test_specs_without_data_are_one_line_not_one_line_each(tmp_path):
    # an operator's export of one metric: every other spec has no data, and the run said
    # so in a line a spec ("complaint-bursts: 7 (no data)", nine of them)
    path, _ = _burst_file(tmp_path)
    done = yujing("backtest", "--hourly", str(path))
    assert done.returncode == 0, done.stderr[-2000:]
    said = done.stdout.replace("\n    ", " ")  # (its continuation lines)
    assert "series not judged at the end, by spec:" in said
    [line] = [x for x in said.splitlines() if "a metric the data lacks" in x]
    assert "complaint-bursts 7" in line and "site-silent 1" in line, line
    assert "(no data)" not in said
