"""Our alerts reach a real Alertmanager, which routes them to its own receivers."""

from __future__ import annotations

import httpx
import pytest

from alerts.notify.outbox import Dispatcher, build_senders
from alerts.tickets.store import TicketStore
from tests.domain import T0, Clock, finding, settings
from tests.kafka_harness import wait_until
from tests.receivers import HttpReceiver

pytestmark = pytest.mark.alertmanager

AM_CONFIG = """
route:
  receiver: default
  group_by: [alertname, region]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
  routes:
    - receiver: network-oncall
      matchers: ['department="network_maintenance"']
receivers:
  - name: default
  - name: network-oncall
    webhook_configs:
      - url: {url}
        send_resolved: true
"""


def test_alertmanager_receives_routes_and_resolves_our_alerts(
    tmp_path, start_alertmanager, sqlite_url
):
    oncall = HttpReceiver().start()
    try:
        am = start_alertmanager(AM_CONFIG.format(url=oncall.url))
        notes = settings(
            {"am": {"type": "alertmanager", "url": am}}, links={"grafana": "http://grafana.example"}
        )
        store = TicketStore(sqlite_url, notifications=notes)
        clock = Clock()
        # a live ticket: opened now, so it fires until its resolution deadline
        ticket, _ = store.open(
            "k1", "fp1", finding(T0, metric="complaints.broadband_lag"), clock.now
        )
        dispatcher = Dispatcher(store.engine, build_senders(notes), notes.retry, clock=clock)
        assert [a.ok for a in dispatcher.run_once()] == [True]

        alerts = httpx.get(f"{am}/api/v2/alerts").json()
        [alert] = [a for a in alerts if a["labels"].get("ticket") == str(ticket.id)]
        assert alert["labels"]["alertname"] == "YujingInspection"
        assert alert["labels"]["region"] == "r1"
        assert alert["annotations"]["grafana_url"].startswith("http://grafana.example/d/")
        assert alert["status"]["state"] == "active"

        def delivered(status: str) -> bool:
            return any(r.json()["status"] == status for r in oncall.received)

        wait_until(
            lambda: delivered("firing"), 30, "Alertmanager to notify the webhook", interval=0.1
        )
        firing = next(r.json() for r in oncall.received if r.json()["status"] == "firing")
        assert firing["receiver"] == "network-oncall"
        assert firing["alerts"][0]["labels"]["ticket"] == str(ticket.id)

        store.mark_recovered("k1", clock.now, resolve=True)
        assert [a.ok for a in dispatcher.run_once()] == [True]
        wait_until(
            lambda: delivered("resolved"), 30, "Alertmanager to send the resolution", interval=0.1
        )
    finally:
        oncall.stop()
