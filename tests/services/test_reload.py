"""Hot reload in the embedded runner: a valid change applies at the next evaluation, an
invalid one is rejected (logged, counted) and the old config keeps running."""

import os

import pytest

from monitor.config.load import load_config
from monitor.runners.embedded import build, run_lines
from tests.helpers import complaint
from tests.kafka_harness import Scenario, wait_until

CONFIG = """\
windows: {{inputs: [complaint], admit_regions: any}}
detectors:
  - id: disputes
    detector: threshold
    metrics: [complaints.billing_dispute]
    params: {{threshold: {threshold}, min_consecutive_hours: 1}}
"""


def hour(h: int, disputes: int) -> list[bytes]:
    return [
        complaint(f"2026-10-05T{h:02d}:{m:02d}:00Z", category="billing_dispute", id_=f"{h}-{m}")
        for m in range(disputes)
    ]


def write(path, text, tick):
    path.write_text(text)
    os.utime(path, ns=(tick, tick))  # a distinct time stamp, however fast the test runs


def test_valid_change_applies_next_evaluation_invalid_keeps_old(tmp_path, sqlite_url):
    path = tmp_path / "detectors.yaml"
    write(path, CONFIG.format(threshold=100), 1_000_000_000)
    run = build(load_config(path), sqlite_url, config_path=path)
    run_lines(run, [*hour(0, 5), *hour(1, 5), *hour(2, 1)], finish=False)
    assert run.tickets.all() == []  # threshold 100: nothing fires

    write(path, CONFIG.format(threshold=3), 2_000_000_000)
    run_lines(run, [*hour(3, 1)], finish=False)  # closes 02:00 (1 dispute): evaluated, quiet
    assert run.pipeline.watcher.reloads == 1
    run_lines(run, [*hour(4, 5), *hour(5, 1)], finish=False)  # closes 03:00 and 04:00
    (ticket,) = run.tickets.all()
    assert ticket.observed == 5 and ticket.first_hour % 86_400_000 == 4 * 3_600_000

    write(path, CONFIG.format(threshold="high") + "  - oops\n", 3_000_000_000)
    run_lines(run, [*hour(6, 1)], finish=False)
    watcher = run.pipeline.watcher
    assert watcher.failures == 1 and watcher.reloads == 1
    assert "detectors.yaml" in watcher.last_error
    assert run.pipeline.config.detectors[0].params["threshold"] == 3  # the old one runs on


@pytest.mark.kafka
def test_hot_reload_in_the_faust_worker(kafka_bootstrap, tmp_path):
    scenario = Scenario(kafka_bootstrap, tmp_path)
    scenario.create_topics()
    path = tmp_path / "detectors.yaml"
    write(path, CONFIG.format(threshold=100), 1_000_000_000)
    try:
        worker = scenario.start_worker("w1", YUJING_CONFIG=str(path))
        first = worker.status()["config_version"]
        write(path, CONFIG.format(threshold=3), 2_000_000_000)
        wait_until(lambda: worker.status()["config_reloads"] == 1, 60, "the valid reload")
        assert worker.status()["config_version"] != first
        scenario.produce([*hour(0, 1), *hour(1, 5), *hour(2, 1)])
        wait_until(lambda: len(scenario.tickets()) == 1, 120, "a ticket under the new config")

        write(path, CONFIG.format(threshold="high"), 3_000_000_000)
        wait_until(
            lambda: worker.status()["config_reload_failures"] == 1,
            60,
            "the invalid config to be rejected",
        )
        assert worker.status()["config_reloads"] == 1
        # the old (valid) config keeps running: a spike elsewhere still opens a ticket
        scenario.produce(
            [line.replace(b'"r1"', b'"r2"') for line in [*hour(3, 1), *hour(4, 5), *hour(5, 1)]]
        )
        wait_until(lambda: len(scenario.tickets()) == 2, 120, "a ticket under the kept config")
        assert {t[2] for t in scenario.tickets()} == {"r1", "r2"}
        assert "config rejected" in worker.log.read_text()
    finally:
        scenario.stop_all()
