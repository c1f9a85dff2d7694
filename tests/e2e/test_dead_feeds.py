"""A feed that dies and a site that goes dark, replayed end to end: each opens one network
ticket that names the silent sites and when their readings stopped, in the operator's
zone; the regions whose feeds go on get none."""

from datetime import datetime

import orjson
import pytest

from detectors.timeaxis import HOUR_MS
from monitor.config.load import load_config
from monitor.lab.simulate_events import SimConfig, generate
from monitor.runners.embedded import build, run_lines


@pytest.fixture(scope="module")
def tickets(tmp_path_factory):
    world, lines = generate(SimConfig(seed=4, regions=4, weeks=2, incidents=False))
    feed_dies = world.start_ms + 200 * HOUR_MS  # 2026-10-13 08:00 +08:00
    site_dark = world.start_ms + 250 * HOUR_MS  # 2026-10-15 10:00 +08:00

    def kept(line: bytes) -> bool:
        event = orjson.loads(line)
        if event.get("type") != "kpi":
            return True
        at = datetime.fromisoformat(event["event_time"]).timestamp() * 1000
        if event["region"] == "region-002":
            return at < feed_dies
        return event["site"] != "region-003-s2" or at < site_dark

    db = tmp_path_factory.mktemp("dead-feeds") / "tickets.db"
    run = build(load_config(), f"sqlite:///{db}")
    run_lines(run, (line for line in lines if kept(line)))
    found = run.tickets.all()
    run.tickets.close()
    return found


def test_a_dead_feed_opens_one_ticket_naming_its_sites_and_when_they_stopped(tickets):
    (ticket,) = [t for t in tickets if t.region == "region-002"]
    assert (ticket.detector, ticket.severity, ticket.department) == (
        "silence",
        "major",
        "network_maintenance",
    )
    assert ticket.metric.endswith(".readings")
    assert ticket.sites == (
        "region-002-s1 (no packet_loss reading since 2026-10-13 08:00 +08:00)",
        "region-002-s2 (no packet_loss reading since 2026-10-13 08:00 +08:00)",
    )
    assert ticket.first_hour == datetime.fromisoformat("2026-10-13T09:00+08:00").timestamp() * 1000


def test_a_dark_site_among_live_ones_is_named(tickets):
    (ticket,) = [t for t in tickets if t.region == "region-003"]
    assert (ticket.metric, ticket.severity) == ("kpi.packet_loss.sites", "minor")
    assert ticket.sites == ("region-003-s2 (no packet_loss reading since 2026-10-15 10:00 +08:00)",)
    assert "1 an hour for" in ticket.explanation and "usually 2" in ticket.explanation


def test_regions_whose_feeds_go_on_get_no_ticket(tickets):
    assert {t.region for t in tickets} == {"region-002", "region-003"}
