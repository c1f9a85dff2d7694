"""The production pipeline on a real Kafka broker with real Faust workers."""

from __future__ import annotations

import pytest

from monitor.simulator import SimConfig, generate
from tests.kafka_harness import Scenario, embedded_reference, final_hours, same_metrics, wait_until

pytestmark = pytest.mark.kafka

DRAIN_S = 300


@pytest.fixture(scope="module")
def sim_lines() -> list[bytes]:
    _, lines = generate(SimConfig(seed=3, regions=4, weeks=5))
    return list(lines)


@pytest.fixture(scope="module")
def reference(sim_lines, tmp_path_factory):
    ref = embedded_reference(sim_lines, tmp_path_factory.mktemp("reference"))
    assert len(ref.tickets) >= 4  # the scenario is worth comparing: every incident ticketed
    return ref


@pytest.fixture
def scenario(kafka_bootstrap, tmp_path):
    s = Scenario(kafka_bootstrap, tmp_path)
    s.create_topics()
    yield s
    s.stop_all()


def assert_same_hours(scenario: Scenario, reference) -> None:
    emitted = scenario.hourly()
    hours = final_hours(emitted)
    assert hours.keys() == reference.hours.keys()
    differing = [key for key, agg in hours.items() if not same_metrics(agg, reference.hours[key])]
    assert differing == [], f"{len(differing)} region-hours differ, e.g. {differing[:3]}"
    # a replayed hour is re-sent identically, never with other numbers
    by_revision: dict[tuple[str, int, int], object] = {}
    for agg in emitted:
        key = (agg.region, agg.hour, agg.revision)
        if key in by_revision:
            assert same_metrics(agg, by_revision[key]), f"conflicting copies of {key}"
        by_revision[key] = agg


def test_parity_with_the_embedded_runner(scenario, sim_lines, reference):
    scenario.produce(sim_lines)
    scenario.start_worker("w1")
    wait_until(lambda: scenario.drained(len(reference.hours)), DRAIN_S, "the stream to drain")
    assert_same_hours(scenario, reference)
    assert scenario.tickets() == reference.tickets


def test_two_workers_share_regions_and_match_one(scenario, sim_lines, reference):
    regions = [line for line in sim_lines if b'"type":"region"' in line]
    scenario.produce(regions)
    first, second = scenario.start_worker("w1"), scenario.start_worker("w2")

    def balanced() -> bool:
        parts = [set((w.status() or {}).get("assigned_partitions", [])) for w in (first, second)]
        return all(parts) and not parts[0] & parts[1] and parts[0] | parts[1] == set(range(4))

    wait_until(balanced, 120, "both workers to own partitions")
    scenario.produce(line for line in sim_lines if b'"type":"region"' not in line)
    wait_until(lambda: scenario.drained(len(reference.hours)), DRAIN_S, "the stream to drain")
    seen = [set(w.status()["regions"]) for w in (first, second)]
    assert seen[0] and seen[1], "both workers processed regions"
    assert not seen[0] & seen[1], f"a region was processed by both workers: {seen}"
    assert seen[0] | seen[1] == {key[0] for key in reference.hours}
    assert_same_hours(scenario, reference)
    assert scenario.tickets() == reference.tickets


def test_sigkill_mid_stream_loses_nothing_and_duplicates_nothing(scenario, sim_lines,
                                                                  reference):
    scenario.produce(sim_lines)
    victim = scenario.start_worker("w1")
    target = len(reference.hours) // 3
    wait_until(lambda: len(final_hours(scenario.hourly())) >= target, DRAIN_S,
               "a third of the hours before the crash")
    scenario.kill(victim)
    scenario.start_worker("w2")
    wait_until(lambda: scenario.drained(len(reference.hours)), DRAIN_S, "the stream to drain")
    assert_same_hours(scenario, reference)
    tickets = scenario.tickets()
    assert len(tickets) == len({t[0] for t in tickets}), "a fingerprint got a second ticket"
    assert tickets == reference.tickets

