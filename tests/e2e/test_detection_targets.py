"""The simulator targets of the default config (issue #14), one world per test: every
incident caught on seeds 2, 3, 4, 7 and 9 with the degrading site within 24 hours of its
onset (and before its worst hour), and at most one false alarm per 50 region-weeks on the
incident-free worlds of seeds 5, 7, 11 and 13. The same figures, with NAB's, are printed
by bench/bench_detection_quality.py and tabled in docs/detectors.md.

Each world's events go through the windows once, and their hours are judged as a backtest
over hourly data judges them: the same findings and tickets as the event replay
(tests/e2e/test_hourly_replay.py), in ~26 s a world instead of ~55 (the event replay
judged hour by hour; nine worlds took 8 of the suite's minutes)."""

from __future__ import annotations

import pytest

from monitor.config.load import load_config
from monitor.detection.hourly_file import HourlySeries
from monitor.lab.backtest import BacktestResult, run_backtest_series
from monitor.lab.simulate_events import SimConfig, generate
from monitor.runners.embedded import build, run_lines
from monitor.windows.aggregation import HourlyAggregate

pytestmark = pytest.mark.slow


def backtest(sim: SimConfig, tmp_path) -> BacktestResult:
    """The default config's backtest of a simulated world: its hours from the windows, a
    run without detectors, then judged over hourly data."""
    world, lines = generate(sim)
    config = load_config()
    hours: list[HourlyAggregate] = []
    run = build(config.model_copy(update={"detectors": []}), f"sqlite:///{tmp_path / 'w.db'}")
    run.pipeline.observe(aggregate=hours.append)
    run_lines(run, lines)
    run.tickets.close()
    series = HourlySeries.from_aggregates(hours, config.metrics_needed())
    return run_backtest_series(config, series, world.labels)


@pytest.mark.parametrize("seed", [2, 3, 4, 7, 9])
def test_every_incident_is_caught_and_the_failing_site_within_a_day(seed, tmp_path):
    result = backtest(SimConfig(seed=seed), tmp_path)
    missed = [i.id for i in result.scorecard.incidents if not i.caught]
    assert not missed
    (site,) = [i for i in result.scorecard.incidents if i.kind == "site_degradation"]
    assert site.delay_hours is not None and site.delay_hours <= 24, site
    assert site.lead_hours is not None and site.lead_hours > 0, site
    assert len(site.ticket_ids) == 1, "one failing site, one inspection ticket"


@pytest.mark.parametrize("seed", [5, 7, 11, 13])
def test_a_quiet_world_raises_at_most_one_alarm_per_50_region_weeks(seed, tmp_path):
    result = backtest(SimConfig(seed=seed, incidents=False), tmp_path)
    assert result.region_weeks == 250  # 50 regions x 5 weeks: the whole world judged
    alarms = len(result.scorecard.false_alarms)
    assert alarms <= result.region_weeks / 50, [
        (t.region, t.metric, t.detector) for t in result.scorecard.false_alarms
    ]
