"""When partitions move, each worker exports the regions it owns now, even when no event
comes after the rebalance. Before, a worker followed a rebalance on its next batch only:
one whose kept partitions were all read kept the moved regions' series at their last
values beside the new owner's (a dashboard's sum by region counted them twice), and the
new owner showed a region only once it spoke again."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from detectors.timeaxis import from_iso, to_iso
from monitor.runners.faust.bundles import partition_for
from tests.helpers import complaint, kpi, region
from tests.kafka_harness import Worker, wait_until

pytestmark = pytest.mark.kafka

T0 = from_iso("2026-10-05T08:00:00Z")
REGIONS = [f"r{i}" for i in range(12)]


def exported_regions(worker: Worker) -> set[str] | None:
    """The regions of the worker's ``yujing_region_complaints`` series (None: no answer)."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{worker.web_port}/metrics", timeout=5
        ) as response:
            text = response.read().decode()
    except OSError:
        return None
    return {
        sample.labels["region"]
        for family in text_string_to_metric_families(text)
        if family.name == "yujing_region_complaints"
        for sample in family.samples
    }


def owned_regions(worker: Worker, partitions: int) -> set[str]:
    owned = set((worker.status() or {}).get("assigned_partitions", []))
    return {r for r in REGIONS if partition_for(r, partitions) in owned}


def test_after_a_rebalance_without_events_each_region_is_exported_by_its_owner_alone(
    scenario,
):
    assert len({partition_for(r, scenario.partitions) for r in REGIONS}) == scenario.partitions
    lines = [region(r) for r in REGIONS]
    for minute in range(0, 150, 10):  # 08:00-10:20: two closed hours per region
        at = to_iso(T0 + minute * 60_000)
        for r in REGIONS:
            lines += [complaint(at, region=r, id_=f"{r}-{minute}"), kpi(at, 1.0, region=r)]
    scenario.produce(lines)
    first = scenario.start_worker("w1")
    wait_until(
        lambda: exported_regions(first) == set(REGIONS),
        120,
        "the first worker to export every region",
        explain=lambda: f"exported: {exported_regions(first)}\n{first.log.read_text()[-3000:]}",
    )

    second = scenario.start_worker("w2")  # no event comes after this

    def split() -> bool:
        parts = [set((w.status() or {}).get("assigned_partitions", [])) for w in (first, second)]
        return all(parts) and not parts[0] & parts[1]

    wait_until(split, 120, "the partitions to be shared")
    kept = owned_regions(first, scenario.partitions)
    assert kept and kept != set(REGIONS)
    taken = set(REGIONS) - kept
    wait_until(
        lambda: exported_regions(first) == kept and exported_regions(second) == taken,
        60,
        "each worker to export the regions it owns, and only those",
        explain=lambda: (
            f"first kept {sorted(kept)}, exports {sorted(exported_regions(first) or [])}\n"
            f"second took {sorted(taken)}, exports {sorted(exported_regions(second) or [])}\n"
            f"{first.log.read_text()[-2000:]}\n{second.log.read_text()[-2000:]}"
        ),
    )
