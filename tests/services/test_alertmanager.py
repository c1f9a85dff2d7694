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


def test_the_shipped_config_mails_the_monitors_own_alerts(start_alertmanager):
    """deploy/alertmanager/alertmanager.yml had an empty receiver: a feed gone silent
    reached nobody. The shipped file, its relay pointed at a local SMTP server (and its
    grouping wait shortened), delivers a Prometheus alert and an inspection ticket."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller

    from tests.conftest import ROOT, free_port

    mail: list = []

    class Inbox:
        async def handle_DATA(self, _server, _session, envelope) -> str:
            mail.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
            return "250 OK"

    port = free_port()
    smtp = Controller(Inbox(), hostname="127.0.0.1", port=port)
    smtp.start()
    try:
        shipped = (ROOT / "deploy/alertmanager/alertmanager.yml").read_text()
        assert "mailpit:1025" in shipped and "group_wait: 30s" in shipped
        am = start_alertmanager(
            shipped.replace("mailpit:1025", f"127.0.0.1:{port}").replace(
                "group_wait: 30s", "group_wait: 1s"
            )
        )
        alerts = [
            {"labels": {"alertname": "YujingInputSilent", "severity": "critical"}},
            {"labels": {"alertname": "YujingInspection", "region": "r1", "metric": "m"}},
        ]
        httpx.post(f"{am}/api/v2/alerts", json=alerts, timeout=10).raise_for_status()
        wait_until(lambda: len(mail) >= 2, 60, "Alertmanager to send both mails", interval=0.2)
        to = sorted(rcpt for rcpts, _msg in mail for rcpt in rcpts)
        assert to == ["noc-monitor@noc.example", "noc@noc.example"]
        subjects = " ".join(str(msg["Subject"]) for _rcpts, msg in mail)
        assert "YujingInputSilent" in subjects and "YujingInspection" in subjects
    finally:
        smtp.stop()
