"""Backtest: the same pipeline over history, scored; --compare and --plots from the CLI."""

import os
import re
import subprocess
import sys
from dataclasses import replace

import orjson
import pytest

from monitor.config.load import load_config, parse_config
from monitor.lab.backtest import run_backtest
from monitor.lab.labels import KnownFalseAlarm
from monitor.lab.simulate_events import SimConfig, generate, write

STRICT = """\
detectors:
  - id: billing-only
    detector: threshold
    metrics: [complaint_rate.billing_dispute]
    params: {threshold: 0.8, min_consecutive_hours: 3}
"""


@pytest.fixture(scope="module")
def small_world(tmp_path_factory):
    out = tmp_path_factory.mktemp("bt")
    events, labels, _ = write(SimConfig(seed=3, regions=6, weeks=5), out)
    return events, labels


def test_default_config_catches_every_incident_kind(small_world):
    from monitor.lab.simulate_events import read_labels

    events, labels_path = small_world
    labels = read_labels(labels_path)
    result = run_backtest(load_config(), events.open("rb"), labels)
    assert {i.kind for i in result.scorecard.incidents if i.caught} == {
        "site_degradation",
        "evening_congestion",
        "billing_fault",
        "install_repair_backlog",
    }
    assert result.recall() == 1.0
    assert result.scorecard.false_alarms == []
    assert {"wow", "threshold", "peak_congestion"} <= set(result.detectors)


def test_site_fault_precursor_flags_the_degrading_site_before_the_wow_rule():
    world, lines = generate(SimConfig(seed=2, regions=10, weeks=5))
    result = run_backtest(load_config(), lines, world.labels)
    (site,) = [lab.id for lab in world.labels if lab.kind == "site_degradation"]
    wow = result.detectors["wow"].caught[site]
    precursor = result.detectors["site_fault"].caught[site]
    assert precursor + 24 <= wow, (precursor, wow)
    assert result.detectors["early_trend"].caught[site] + 24 <= wow


def test_cli_compare_and_plots(small_world, tmp_path):
    events, labels = small_world
    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT)
    parse_config(strict.read_text())
    plots = tmp_path / "plots"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "backtest",
            "--data",
            str(events),
            "--labels",
            str(labels),
            "--compare",
            str(strict),
            "--plots",
            str(plots),
            "--json",
        ],
        capture_output=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    doc = orjson.loads(done.stdout)
    assert doc["a"]["recall"] == 1.0
    assert doc["b"]["recall"] == 0.25
    assert len(doc["only_default"]) == 3 and doc["only_strict"] == []
    # which tickets the change spares on-call, not only how many: every default ticket
    # but its billing one, which the strict config opens too (a rate's threshold where the
    # default's count burst: the same news for on-call)
    opened = {t["id"]: t["metric"] for t in doc["a"]["ticket_list"]}
    billing = [n for n, metric in opened.items() if metric.endswith("billing_dispute")]
    assert len(billing) == 1 and len(doc["b"]["ticket_list"]) == 1
    assert sorted(doc["opened_only_default"]) == sorted(set(opened) - set(billing))
    assert doc["opened_only_strict"] == []
    pngs = sorted((plots / "default").glob("*.png"))
    assert pngs, "one plot per alerted series"
    for png in pngs:
        data = png.read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_compare_names_the_known_false_alarms_a_config_avoids(small_world, tmp_path):
    """Labels exported from a month's outcomes list false alarms beside the incidents:
    the comparison names the ones the second config would no longer raise."""
    events, labels = small_world
    result = run_backtest(load_config(), events.open("rb"), [])
    # people called every ticket of the default config false: the strict one raises
    # only its billing tickets again
    doc = {
        "incidents": orjson.loads(labels.read_bytes())["incidents"],
        "false_alarms": [
            KnownFalseAlarm(t.id, t.region, t.metric, t.detector, t.first_hour,
                            t.last_fired_hour).to_json()
            for t in result.tickets
        ],
    }  # fmt: skip
    billing = {t.id for t in result.tickets if t.metric.endswith("billing_dispute")}
    others = sorted(t.id for t in result.tickets if t.id not in billing)
    assert billing and others
    exported = tmp_path / "labels.json"
    exported.write_bytes(orjson.dumps(doc))
    strict = tmp_path / "strict.yaml"
    strict.write_text(STRICT)
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "backtest", "--data", str(events),
         "--labels", str(exported), "--compare", str(strict)],
        capture_output=True, timeout=600, check=False, env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip
    text = done.stdout.decode()
    assert done.returncode == 0, done.stderr.decode()[-3000:]
    n = len(result.tickets)
    assert re.search(
        rf"known false alarms raised\s+│\s+{n} of {n}\s+│\s+{len(billing)} of {n}", text
    ), text
    avoided = text.split("known false alarms strict avoids (raised by default):")[1]
    avoided = avoided.split("known false alarms strict raises, default not:")[0]
    assert sorted(int(x) for x in re.findall(r"#(\d+) ", avoided)) == others
    assert text.rstrip().endswith("known false alarms strict raises, default not:\n  none")
    # the tickets only one config opens, each with what the labels make of it
    spared = text.split(f"tickets only default opens: {len(others)}\n")[1]
    spared = spared.split("tickets only strict opens: none")[0]
    assert sorted(int(x) for x in re.findall(r"#(\d+) ", spared)) == others
    said = " ".join(spared.split())  # a line too long for 80 columns hangs under its ticket
    assert said.count(": no labelled event") + said.count(": inc-") == len(others), said
    # one config's JSON tells which of the listed ones it raises again
    alarms = [KnownFalseAlarm.from_json(x) for x in doc["false_alarms"]]
    single = result.to_json(alarms)["known_false_alarms"]
    assert single == {"listed": n, "raised": [a.ticket for a in alarms]}


def test_labels_of_series_the_data_lacks_are_left_out_and_named():
    """One labels file for eleven series (NAB's windows.json) against the one series
    imported: the ten others counted as missed (recall 0.05, whatever the config)."""
    from monitor.lab.backtest import run_backtest_series
    from monitor.lab.simulate_events import SimConfig
    from monitor.lab.simulate_hourly import simulate_hourly

    config = load_config()
    series, labels = simulate_hourly(SimConfig(seed=2, regions=8), config.metrics_needed())
    whole = run_backtest_series(config, series, labels)
    elsewhere = [replace(label, region=f"elsewhere-{i}") for i, label in enumerate(labels[:3])]
    mixed = run_backtest_series(config, series, [*labels, *elsewhere])
    assert mixed.labels_left_out == ["elsewhere-0", "elsewhere-1", "elsewhere-2"]
    assert mixed.quality()["events"] == whole.quality()["events"]  # scored as without them
    assert mixed.to_json()["labels_left_out"] == mixed.labels_left_out


def test_a_backtest_whose_events_were_refused_says_so_and_why(tmp_path):
    """Complaints imported without their region records were every one dead-lettered,
    and the backtest printed "tickets 0" as if the config had found nothing."""
    events = tmp_path / "e.jsonl"
    events.write_bytes(
        b'{"type":"complaint","id":"A1","event_time":1790812800000,"region":"gz-tianhe",'
        b'"category":"broadband_lag","channel":"hotline"}\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "backtest", "--data", str(events)],
        capture_output=True, text=True, timeout=300, check=False,
        env={**os.environ, "COLUMNS": "80"},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    said = " ".join(done.stdout.split())
    assert "events 1 read, 0 accepted; nothing was judged" in said
    assert "dead letters: unknown_region=1" in said
    assert "e.g. unknown_region: region 'gz-tianhe' is not in the reference data" in said
