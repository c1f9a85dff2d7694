"""`yujing import prometheus` against a real Prometheus holding history: blocks written by
promtool (as an operator's long-running Prometheus would hold them), range queries in
chunks, samples combined per region-hour into the hourly file a backtest reads."""

from __future__ import annotations

import shutil
import subprocess
import sys

import httpx
import numpy as np
import pytest

from detectors.timeaxis import HOUR_MS, to_iso
from monitor.config.model import KNOWN_METRICS
from monitor.detection.hourly_file import HourlySeries
from monitor.importers import prometheus
from monitor.importers.csv_import import HourlyValues
from tests.conftest import launch_prometheus, missing

pytestmark = pytest.mark.prometheus

HOURS = 30
STEP_S = 300


def loss(region: int, site: int, k: int) -> float:
    """The packet loss of a site at its k-th five-minute sample."""
    return round(0.1 * region + 0.05 * site + 0.001 * (k % 12) + 0.01 * (k // 12), 6)


@pytest.fixture(scope="module")
def history(tmp_path_factory):
    """A Prometheus holding 30 hours of two regions x two sites, ending two days ago."""
    promtool = shutil.which("promtool")
    if promtool is None:
        missing("prometheus", "promtool (the prometheus package) is not installed")
    tmp = tmp_path_factory.mktemp("prom-history")
    now_h = int(np.datetime64("now", "h").astype(np.int64)) * HOUR_MS
    first = now_h - (48 + HOURS) * HOUR_MS
    lines = ["# HELP site_packet_loss Packet loss per site.", "# TYPE site_packet_loss gauge"]
    for region in (1, 2):
        for site in (1, 2):
            labels = f'region="north-0{region}",site="c{site}"'
            for k in range(HOURS * 12):
                at = (first + k * STEP_S * 1000) // 1000
                lines.append(f"site_packet_loss{{{labels}}} {loss(region, site, k)} {at}")
    lines.append('site_packet_loss{site="orphan"} 1 ' + str(first // 1000))
    lines.append("# EOF")
    (tmp / "history.om").write_text("\n".join(lines) + "\n")
    subprocess.run(
        [promtool, "tsdb", "create-blocks-from", "openmetrics", str(tmp / "history.om"),
         str(tmp / "tsdb")],
        check=True, capture_output=True, timeout=120,
    )  # fmt: skip
    url, process = launch_prometheus(tmp, [], ("--storage.tsdb.retention.time=10y",))
    yield url, first
    process.terminate()
    process.wait(timeout=30)


def expected_mean(region: int, hour: int) -> float:
    return float(np.mean([loss(region, s, hour * 12 + i) for s in (1, 2) for i in range(12)]))


def test_backfill_in_chunks_gives_each_region_hour_its_mean(history, monkeypatch):
    url, first = history
    monkeypatch.setattr(prometheus, "MAX_POINTS", 7)  # many chunks, none counted twice
    hourly = HourlyValues()
    last = first + (HOURS * 12 - 1) * STEP_S * 1000
    with httpx.Client(timeout=30) as client:
        report = prometheus.backfill(
            client, url, "site_packet_loss", first, last, STEP_S,
            "kpi.packet_loss.mean", "region", hourly,
        )  # fmt: skip
    assert report.samples == 2 * 2 * HOURS * 12
    assert report.regions == {"north-01", "north-02"}
    assert sum(report.skipped.values()) > 0, "the series without a region label is told"
    series = hourly.series()
    assert series.first_hour == first and series.hours == HOURS
    got = series.values["kpi.packet_loss.mean"]
    for region in (1, 2):
        for hour in (0, 7, HOURS - 1):
            assert got[region - 1, hour] == pytest.approx(expected_mean(region, hour), abs=1e-6)


def test_the_command_writes_the_hourly_file_and_refuses_a_bad_query(history, tmp_path):
    url, first = history
    out = tmp_path / "kpi.npz"

    def yujing(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor.cli", "import", "prometheus", "--url", url,
             "--start", to_iso(first), "--end", to_iso(first + (HOURS - 1) * HOUR_MS),
             "--metric", "kpi.packet_loss.mean", "-o", str(out), *args],
            capture_output=True, text=True, timeout=120, check=False,
        )  # fmt: skip

    done = yujing("--query", "site_packet_loss")
    assert done.returncode == 0, done.stderr
    assert "5 series" in done.stdout and "2 regions x 30 hours (mean per hour)" in done.stdout
    series = HourlySeries.load(out, known=KNOWN_METRICS)
    assert series.values["kpi.packet_loss.mean"][1, 3] == pytest.approx(expected_mean(2, 3))
    bad = yujing("--query", "site_packet_loss{")
    assert bad.returncode == 2 and "Prometheus refused the query (bad_data)" in bad.stderr
    assert "Traceback" not in bad.stderr
