import itertools

from monitor.lab.simulate_events import SimConfig, generate, write


def first_lines(config, n=3000):
    _, lines = generate(config)
    return list(itertools.islice(lines, n))


def test_same_seed_same_data():
    config = SimConfig(seed=11, regions=5, weeks=3, incidents=False)
    assert first_lines(config) == first_lines(config)
    other = SimConfig(seed=12, regions=5, weeks=3, incidents=False)
    assert first_lines(config) != first_lines(other)


def test_labels_cover_every_incident_kind_and_no_incidents_means_none(tmp_path):
    world, _ = generate(SimConfig(seed=3, regions=10, weeks=5))
    assert sorted(lab.kind for lab in world.labels) == [
        "billing_fault",
        "evening_congestion",
        "install_repair_backlog",
        "site_degradation",
    ]
    assert len({lab.region for lab in world.labels}) == 4
    quiet, _ = generate(SimConfig(seed=3, regions=10, weeks=5, incidents=False))
    assert quiet.labels == []


def test_evening_peak_for_broadband(tmp_path):
    world, _ = generate(SimConfig(seed=1, regions=3, weeks=3, incidents=False))
    from monitor.lab.simulate_events import C, Category

    daily = world.rate[:, C[Category.BROADBAND_LAG], :24].sum(axis=0)
    assert int(daily.argmax()) in (20, 21)


def test_write_produces_jsonl_and_labels(tmp_path):
    events, labels, n = write(SimConfig(seed=2, regions=4, weeks=5, dirty=True), tmp_path)
    assert n == sum(1 for _ in events.open("rb"))
    assert b"incidents" in labels.read_bytes()


def test_incidents_need_enough_history():
    import pytest

    with pytest.raises(ValueError, match="at least 5"):
        SimConfig(weeks=3)


def test_the_hourly_simulator_matches_the_event_simulator_at_its_default_length():
    import numpy as np
    import pytest

    from monitor.lab.simulate_events import build_world
    from monitor.lab.simulate_hourly import SIMULATED, simulate_hourly

    config = SimConfig(seed=3, regions=6)  # the default 5 weeks
    series, labels = simulate_hourly(config)
    assert series.regions == build_world(config).regions, "one naming: configs carry over"
    assert {label.kind for label in labels} == {
        "site_degradation", "evening_congestion", "billing_fault", "install_repair_backlog"
    }  # fmt: skip
    assert sorted(series.values) == sorted(SIMULATED)
    for name, values in series.values.items():
        assert np.isfinite(values).all(), name
    categories = [m for m in SIMULATED if m.startswith("complaints.") and m != "complaints.total"]
    total = sum(series.values[m] for m in categories)
    assert np.array_equal(series.values["complaints.total"], total)
    with pytest.raises(ValueError, match=r"no kpi.latency.mean; it simulates"):
        simulate_hourly(config, ["kpi.latency.mean"])
