"""Hourly replay: a backtest over hourly data finds what the event replay finds.

The event replay aggregates raw events and judges each hour as regions close it; the
hourly replay writes the aggregates into the series store a week at a time and judges a
week per detector call. Same detectors, same alert policy: the same findings and tickets.
"""

import subprocess
import sys

import numpy as np
import orjson
import pytest

from detectors.timeaxis import HOUR_MS
from monitor.config.load import load_config
from monitor.detection.hourly_file import HourlySeries
from monitor.lab.backtest import run_backtest_series
from monitor.lab.simulate_events import SimConfig, generate
from monitor.runners.embedded import build, run_lines
from monitor.windows.aggregation import CATEGORIES, HourlyAggregate


@pytest.fixture(scope="module")
def world_and_events():
    world, lines = generate(SimConfig(seed=2, regions=8, weeks=5))
    return world, list(lines)


def test_hourly_replay_matches_the_event_replay(world_and_events, tmp_path):
    world, lines = world_and_events
    config = load_config()
    aggregates: list[HourlyAggregate] = []
    found: list = []
    run = build(config, f"sqlite:///{tmp_path / 'a.db'}")
    run.pipeline.observe(aggregate=aggregates.append)
    run.pipeline.observe(tick=lambda result: found.extend(result.findings))
    run_lines(run, iter(lines))
    events_tickets = run.tickets.all()
    run.tickets.close()
    series = HourlySeries.from_aggregates(aggregates, config.metrics_needed())
    series.save(tmp_path / "hourly.npz")
    loaded = HourlySeries.load(tmp_path / "hourly.npz", config.metrics_needed())
    hourly = run_backtest_series(config, loaded, world.labels, scan_hours=100)

    def findings(spec_findings):
        return sorted(
            (
                f.finding.hour,
                f.spec_id,
                f.finding.region,
                f.finding.metric,
                round(f.finding.observed, 3),
            )
            for f in spec_findings
        )

    assert findings(hourly.findings) == findings(found)
    assert len(hourly.findings) > 20
    assert [(t.key, t.region, t.state, t.explanation) for t in hourly.tickets] == [
        (t.key, t.region, t.state, t.explanation) for t in events_tickets
    ]
    assert hourly.recall() == 1.0


def test_series_round_trip_and_corrections(tmp_path):
    def agg(region, hour, n, revision=0):
        complaints = {c: 0 for c in CATEGORIES} | {"broadband_lag": n}
        return HourlyAggregate.from_json(
            {
                "region": region,
                "hour": hour * HOUR_MS,
                "revision": revision,
                "complaints": complaints,
                "kpi": {},
                "subscribers": 1000,
            }
        )

    series = HourlySeries.from_aggregates(
        [agg("b", 10, 1), agg("a", 12, 5), agg("a", 10, 2), agg("a", 10, 7, revision=1)],
        ["complaints.broadband_lag", "kpi.packet_loss.mean"],
    )
    assert series.regions == ["a", "b"] and series.first_hour == 10 * HOUR_MS
    lag = series.values["complaints.broadband_lag"]
    assert lag[0].tolist()[0] == 7 and lag[0, 2] == 5 and np.isnan(lag[1, 1])
    series.save(tmp_path / "s.npz")
    back = HourlySeries.load(tmp_path / "s.npz")
    assert back.regions == series.regions and back.hours == 3
    assert np.array_equal(back.values["complaints.broadband_lag"], lag, equal_nan=True)
    with pytest.raises(ValueError, match="start of an hour"):
        HourlySeries(["a"], 5, {"m": np.zeros((1, 2))})


def test_cli_simulates_and_backtests_hourly_data(tmp_path):
    """`yujing simulate --hourly` then `yujing backtest --hourly`: months in seconds."""
    run = [sys.executable, "-m", "monitor.cli"]
    done = subprocess.run(
        [
            *run,
            "simulate",
            "--hourly",
            "--regions",
            "40",
            "--weeks",
            "13",
            "--seed",
            "5",
            "-o",
            str(tmp_path),
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    done = subprocess.run(
        [
            *run,
            "backtest",
            "--hourly",
            str(tmp_path / "hourly.npz"),
            "--labels",
            str(tmp_path / "labels.json"),
            "--json",
        ],
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    doc = orjson.loads(done.stdout)
    assert doc["scorecard"]["incidents"] and len(doc["scorecard"]["incidents"]) == 8
    assert doc["recall"] == 1.0
    assert doc["false_alarms_per_region_week"] < 0.01
    refused = subprocess.run([*run, "backtest"], capture_output=True, timeout=300, check=False)
    assert refused.returncode == 2 and b"--hourly" in refused.stderr
