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
