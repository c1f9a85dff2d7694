"""A config's own taxonomy on the Kafka worker: the same declared category and KPI as
tests/e2e/test_own_taxonomy.py go through the raw topics, the worker's windows, its
detectors and its ticket store."""

from __future__ import annotations

import httpx
import pytest

from alerts.tickets.store import TicketStore
from tests.e2e.test_own_taxonomy import TAXONOMY, own_events
from tests.kafka_harness import final_hours, wait_until

pytestmark = pytest.mark.kafka


def test_the_worker_follows_the_configs_taxonomy(scenario, tmp_path):
    config = tmp_path / "own.yaml"
    config.write_text(TAXONOMY)
    scenario.produce(own_events(tmp_path))
    worker = scenario.start_worker("w1", YUJING_CONFIG=str(config))
    # hours close as complaints move past them: 00:00-02:00 (03:00 waits for a later one)
    wait_until(lambda: len(final_hours(scenario.hourly())) >= 3, 300, "three closed hours")
    hours = sorted(final_hours(scenario.hourly()).values(), key=lambda a: a.hour)
    assert [a.complaints for a in hours[:3]] == [
        {"5g_no_service": 1}, {"5g_no_service": 1}, {"5g_no_service": 3}
    ]  # fmt: skip
    assert hours[2].value("kpi.prb_utilisation.max") == 72.0
    wait_until(lambda: scenario.tickets(), 120, "the ticket")
    [(_, _, region, metric, detector)] = scenario.tickets()
    assert (region, metric, detector) == ("r1", "complaints.5g_no_service", "threshold")
    store = TicketStore(scenario.db_url)
    try:
        assert [t.department for t in store.all()] == ["network_maintenance"]
    finally:
        store.close()
    url = f"http://127.0.0.1:{worker.web_port}/metrics"
    wanted = 'yujing_region_complaints{category="5g_no_service",region="r1"}'
    wait_until(lambda: wanted in httpx.get(url, timeout=5).text, 60, "the category on /metrics")
