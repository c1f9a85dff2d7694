"""On-call notifications through the persistent outbox, to real local servers."""

from __future__ import annotations

import itertools

import orjson
import pytest

from alerts.notify.channels import Outgoing, sign, verify
from alerts.notify.outbox import DeliveryState, Dispatcher, build_senders, counts
from alerts.tickets.store import TicketStore
from tests.conftest import free_port
from tests.domain import T0, Clock, finding, settings
from tests.receivers import HttpReceiver, SmtpReceiver, self_signed_cert

SECRET = "s3cret-for-tests"


def open_one(store: TicketStore, key: str = "k1", region: str = "r1"):
    ticket, created = store.open(key, f"fp-{key}", finding(T0, region=region), T0)
    assert created
    return ticket


@pytest.fixture
def hook(monkeypatch):
    monkeypatch.setenv("YUJING_WEBHOOK_SECRET", SECRET)
    receiver = HttpReceiver(secret=SECRET.encode()).start()
    yield receiver
    receiver.stop()


def webhook(url: str) -> dict:
    return {
        "type": "webhook",
        "url": url,
        "secret_env": "YUJING_WEBHOOK_SECRET",
        "timeout_seconds": 2,
    }


def test_signature_covers_the_timestamp_and_the_body():
    body = b'{"a":1}'
    sig = sign(b"k", "1000", body)
    assert verify(b"k", "1000", body, sig, now_s=1100)
    assert not verify(b"k", "1000", body + b" ", sig, now_s=1100)  # body changed
    assert not verify(b"k", "1001", body, sig, now_s=1100)  # timestamp changed
    assert not verify(b"k", "1000", body, sig, now_s=1000 + 301)  # replayed later
    assert not verify(b"other", "1000", body, sig, now_s=1100)


def test_signed_webhook_carries_the_whole_story(tmp_path, hook, sqlite_url):
    notes = settings(
        {"oncall": webhook(hook.url)},
        links={"tickets": "http://noc.example/api/v1/tickets", "grafana": "http://grafana.example"},
    )
    store = TicketStore(sqlite_url, notifications=notes)
    ticket = open_one(store)
    attempts = Dispatcher(store.engine, build_senders(notes), notes.retry).run_once()
    assert [a.ok for a in attempts] == [True]
    assert hook.rejected == []
    [got] = hook.received
    body = got.json()
    assert body["event"] == "opened" and body["region"] == "r1"
    assert body["metric"] == ticket.metric and body["observed"] == ticket.observed
    assert body["baseline"] == ticket.baseline and body["change_pct"] == ticket.change_pct
    assert body["explanation"] == ticket.explanation
    assert body["ticket_url"] == f"http://noc.example/api/v1/tickets/{ticket.id}"
    assert body["grafana_url"].startswith("http://grafana.example/d/yujing-region/")
    assert "var-region=r1" in body["grafana_url"]
    assert got.headers["Idempotency-Key"] == body["delivery_key"]


def test_a_wrong_secret_is_refused_by_the_receiver_and_kept_for_retry(
    tmp_path, hook, monkeypatch, sqlite_url
):
    monkeypatch.setenv("YUJING_WEBHOOK_SECRET", "not-the-shared-one")
    notes = settings({"oncall": webhook(hook.url)})
    store = TicketStore(sqlite_url, notifications=notes)
    open_one(store)
    [attempt] = Dispatcher(store.engine, build_senders(notes), notes.retry).run_once()
    assert not attempt.ok and "401" in attempt.error
    assert hook.received == [] and len(hook.rejected) == 1
    assert counts(store.engine) == {("oncall", "dead"): 1}  # a 4xx does not heal by itself


def test_outage_then_each_notification_arrives_exactly_once(db_url, hook):
    hook.fail_first = 3
    notes = settings({"oncall": webhook(hook.url)})
    store = TicketStore(db_url, notifications=notes)
    for k in range(4):
        open_one(store, key=f"k{k}", region=f"r{k}")
    clock = Clock()
    dispatcher = Dispatcher(store.engine, build_senders(notes), notes.retry, clock=clock)
    for _ in range(10):
        dispatcher.run_once()
        clock.advance(notes.retry.max_backoff_seconds)
    assert hook.attempts >= 3 + 4
    keys = hook.keys()
    assert len(keys) == 4 and len(set(keys)) == 4, keys
    assert counts(store.engine) == {("oncall", "delivered"): 4}
    store.close()


def test_backoff_waits_longer_after_each_failure(tmp_path, hook, sqlite_url):
    hook.fail_first = 100
    notes = settings(
        {"oncall": webhook(hook.url)}, retry={"base_seconds": 2, "max_backoff_seconds": 60}
    )
    store = TicketStore(sqlite_url, notifications=notes)
    open_one(store)
    clock = Clock()
    dispatcher = Dispatcher(store.engine, build_senders(notes), notes.retry, clock=clock)
    tried_at = []
    for _ in range(90):  # one pass per simulated second
        if dispatcher.run_once():
            tried_at.append(clock.now)
        clock.advance(1)
    gaps = [(b - a) // 1000 for a, b in itertools.pairwise(tried_at)]
    assert gaps[:5] == [2, 4, 8, 16, 32], gaps


def test_nothing_is_lost_when_the_worker_restarts_between_attempts(db_url, hook):
    port = free_port()
    down = HttpReceiver(port=port, secret=SECRET.encode())  # not listening yet
    notes = settings({"oncall": webhook(down.url)})
    first = TicketStore(db_url, notifications=notes)
    open_one(first, "k1")
    open_one(first, "k2", region="r2")
    attempts = Dispatcher(first.engine, build_senders(notes), notes.retry).run_once()
    assert len(attempts) == 1 and not attempts[0].ok  # the 2nd waits: same channel failing
    assert "Connect" in attempts[0].error
    first.close()  # the worker dies; only the database remains

    down.start()
    try:
        second = TicketStore(db_url, notifications=notes)
        clock = Clock()
        clock.advance(notes.retry.max_backoff_seconds)
        Dispatcher(second.engine, build_senders(notes), notes.retry, clock=clock).run_once()
        assert sorted(r.json()["ticket_key"] for r in down.received) == ["k1", "k2"]
        assert counts(second.engine) == {("oncall", "delivered"): 2}
        second.close()
    finally:
        down.stop()


def test_a_crash_after_sending_resends_with_the_same_idempotency_key(tmp_path, hook, sqlite_url):
    notes = settings({"oncall": webhook(hook.url)}, retry={"lease_seconds": 30})
    store = TicketStore(sqlite_url, notifications=notes)
    open_one(store)
    clock = Clock()
    crashed = Dispatcher(store.engine, build_senders(notes), notes.retry, clock=clock)
    [row] = crashed._claim(clock.now)  # leased and sent, then the process died
    crashed.senders["oncall"](Outgoing(row.key, orjson.loads(row.payload)))
    other = Dispatcher(store.engine, build_senders(notes), notes.retry, clock=clock)
    assert other.run_once() == []  # the lease still holds: no double send meanwhile
    clock.advance(31)
    assert [a.ok for a in other.run_once()] == [True]
    assert len(hook.keys()) == 2 and len(set(hook.keys())) == 1  # receiver can drop the repeat


def test_a_dead_endpoint_does_not_hold_up_the_others(tmp_path, hook, sqlite_url):
    dead = f"http://127.0.0.1:{free_port()}/hook"
    notes = settings({"dead": webhook(dead), "oncall": webhook(hook.url)})
    store = TicketStore(sqlite_url, notifications=notes)
    for k in range(3):
        open_one(store, key=f"k{k}", region=f"r{k}")
    attempts = Dispatcher(store.engine, build_senders(notes), notes.retry).run_once()
    assert sum(a.channel == "dead" for a in attempts) == 1  # skipped for the rest of the pass
    assert len(hook.received) == 3


def test_routes_by_severity_department_and_event(tmp_path):
    notes = settings(
        {
            "noc": {"type": "slack", "url": "http://127.0.0.1:1/x"},
            "billing": {"type": "slack", "url": "http://127.0.0.1:1/y"},
            "pager": {"type": "webhook", "url": "http://127.0.0.1:1/z", "unsigned": True},
        },
        routes=[
            {"channels": ["noc"]},
            {"channels": ["billing"], "department": ["billing"]},
            {"channels": ["pager"], "severity": ["critical"], "events": ["escalated"]},
        ],
    )
    assert notes.channels_for("opened", "major", "network_maintenance") == ["noc"]
    assert notes.channels_for("opened", "major", "billing") == ["noc", "billing"]
    assert notes.channels_for("escalated", "critical", "billing") == ["noc", "billing", "pager"]
    assert notes.channels_for("escalated", "warning", "field_service") == ["noc"]
    assert notes.channels_for("acknowledged", "critical", "billing") == []


def test_escalation_is_notified_once(tmp_path, hook, sqlite_url):
    notes = settings({"oncall": webhook(hook.url)})
    store = TicketStore(sqlite_url, notifications=notes)
    open_one(store)
    store.escalate_due(T0 + 15 * 60_000)
    store.escalate_due(T0 + 16 * 60_000)
    Dispatcher(store.engine, build_senders(notes), notes.retry).run_once()
    assert [r.json()["event"] for r in hook.received] == ["opened", "escalated"]
    assert hook.received[1].json()["escalation_level"] == 1


def test_slack_compatible_receiver_gets_text_blocks_and_links(tmp_path, sqlite_url):
    slack = HttpReceiver().start()
    try:
        notes = settings({"noc": {"type": "slack", "url": slack.url}})
        store = TicketStore(sqlite_url, notifications=notes)
        ticket = open_one(store)
        Dispatcher(store.engine, build_senders(notes), notes.retry).run_once()
        [got] = slack.received
        body = got.json()
        assert body["text"].startswith("[Yujing") and "r1" in body["text"]
        section = body["blocks"][1]["text"]["text"]
        assert ticket.explanation in section and "normal ~" in section
        urls = [e["url"] for e in body["blocks"][2]["elements"]]
        assert urls[0].endswith(f"/{ticket.id}") and "/d/yujing-region/" in urls[1]
    finally:
        slack.stop()


@pytest.fixture
def smtp(tmp_path):
    """A local SMTP server that requires STARTTLS, with its certificate."""
    cert, key = self_signed_cert(tmp_path)
    server = SmtpReceiver(cert, key, free_port()).start()
    server.cert = cert
    yield server
    server.stop()


def mail_once(tmp_path, smtp, starttls: bool):
    notes = settings(
        {
            "mail": {
                "type": "email",
                "host": "127.0.0.1",
                "port": smtp.port,
                "starttls": starttls,
                "ca_file": str(smtp.cert),
                "sender": "yujing@noc.example",
                "to": ["oncall@noc.example"],
            }
        }
    )
    store = TicketStore(f"sqlite:///{tmp_path / 't.db'}", notifications=notes)
    ticket = open_one(store)
    [attempt] = Dispatcher(store.engine, build_senders(notes), notes.retry).run_once()
    return store, ticket, attempt


def test_email_over_starttls_to_a_local_smtp_server(tmp_path, smtp):
    _store, ticket, attempt = mail_once(tmp_path, smtp, starttls=True)
    assert attempt.ok, attempt.error
    [mail] = smtp.messages
    assert smtp.tls_seen == [True]
    assert "r1" in mail["Subject"] and mail["To"] == "oncall@noc.example"
    body = mail.get_payload()
    assert ticket.explanation in body and "Grafana: http" in body
    assert mail["Idempotency-Key"].startswith(f"ticket-{ticket.id}/")


def test_email_without_starttls_is_refused_by_a_server_that_requires_it(tmp_path, smtp):
    store, _ticket, attempt = mail_once(tmp_path, smtp, starttls=False)
    assert not attempt.ok and "530" in attempt.error
    assert smtp.messages == []
    # a permanent SMTP refusal (5xx) is dead at once: fix the config, then retry_dead
    assert counts(store.engine) == {("mail", DeliveryState.DEAD.value): 1}


def test_a_comment_cannot_ping_the_channel_or_disguise_a_link(tmp_path, sqlite_url):
    slack = HttpReceiver().start()
    try:
        notes = settings(
            {"noc": {"type": "slack", "url": slack.url}},
            routes=[{"channels": ["noc"], "events": ["opened", "acknowledged"]}],
        )
        store = TicketStore(sqlite_url, notifications=notes)
        ticket = open_one(store)
        evil = "<!channel> see <http://evil|grafana> & go"
        store.transition(ticket.id, "acknowledge", "eve", evil, T0)
        Dispatcher(store.engine, build_senders(notes), notes.retry).run_once()
        bodies = [r.json() for r in slack.received]
        commented = [b for b in bodies if "acknowledged" in b["text"]]
        assert commented, [b["text"] for b in bodies]
        section = commented[0]["blocks"][1]["text"]["text"]
        assert "&lt;!channel&gt;" in section and "&lt;http://evil|grafana&gt;" in section
        assert "&amp; go" in section
        for body in bodies:
            for text in (body["text"], body["blocks"][1]["text"]["text"]):
                assert "<!" not in text and "<http" not in text
    finally:
        slack.stop()


def test_a_signed_webhook_without_its_secret_is_refused_not_sent_unsigned(tmp_path, monkeypatch):
    from alerts.notify.channels import SecretMissing, missing_secrets
    from alerts.notify.settings import NotificationSettings

    monkeypatch.delenv("YUJING_WEBHOOK_SECRET", raising=False)
    notes = settings({"oncall": webhook("http://127.0.0.1:9/hook")})
    assert missing_secrets(notes) == [
        "channel oncall: environment variable YUJING_WEBHOOK_SECRET is not set"
    ]
    with pytest.raises(SecretMissing):
        build_senders(notes)
    monkeypatch.setenv("YUJING_WEBHOOK_SECRET", "")
    assert missing_secrets(notes) == [
        "channel oncall: environment variable YUJING_WEBHOOK_SECRET is empty"
    ]
    with pytest.raises(ValueError, match="unsigned: true"):
        NotificationSettings.model_validate(
            {"channels": {"h": {"type": "webhook", "url": "http://127.0.0.1:9/"}}}
        )


def test_secrets_come_from_files_too(tmp_path, hook, sqlite_url, monkeypatch):
    monkeypatch.delenv("YUJING_WEBHOOK_SECRET", raising=False)
    secret_file = tmp_path / "secret"
    secret_file.write_text(SECRET + "\n")
    notes = settings(
        {"oncall": {"type": "webhook", "url": hook.url, "secret_file": str(secret_file)}}
    )
    store = TicketStore(sqlite_url, notifications=notes)
    open_one(store)
    [attempt] = Dispatcher(store.engine, build_senders(notes), notes.retry).run_once()
    assert attempt.ok, attempt  # the receiver checked the signature made with the file's secret


def test_an_explicitly_unsigned_webhook_goes_out_unsigned(tmp_path, sqlite_url):
    plain = HttpReceiver().start()
    try:
        notes = settings({"plain": {"type": "webhook", "url": plain.url, "unsigned": True}})
        store = TicketStore(sqlite_url, notifications=notes)
        open_one(store)
        Dispatcher(store.engine, build_senders(notes), notes.retry).run_once()
        [got] = plain.received
        assert "X-Yujing-Signature" not in got.headers
    finally:
        plain.stop()


def test_smtp_login_without_tls_is_a_config_error():
    from alerts.notify.settings import NotificationSettings

    with pytest.raises(ValueError, match="starttls: true"):
        NotificationSettings.model_validate(
            {
                "channels": {
                    "mail": {
                        "type": "email",
                        "host": "smtp.example",
                        "starttls": False,
                        "username_env": "U",
                        "password_env": "P",
                        "sender": "y@example",
                        "to": ["noc@example"],
                    }
                }
            }
        )


def test_a_reload_naming_a_missing_secret_keeps_the_running_config(tmp_path, monkeypatch):
    import os

    from monitor.config.load import load_config
    from monitor.config.reload import ConfigWatcher

    monkeypatch.delenv("NOT_THERE", raising=False)
    path = tmp_path / "c.yaml"
    path.write_text("windows: {allowed_lateness_minutes: 30}\n")
    watcher = ConfigWatcher(path, load_config(path))
    path.write_text(
        "notifications:\n  channels:\n    h: {type: webhook, url: 'http://127.0.0.1:9/',"
        " secret_env: NOT_THERE}\n  routes: [{channels: [h]}]\n"
    )
    os.utime(path, ns=(2_000_000_000, 2_000_000_000))
    assert watcher.check() is None and watcher.failures == 1
    assert "NOT_THERE is not set" in (watcher.last_error or "")


def test_the_command_line_works_a_ticket_and_on_call_hears_of_it(tmp_path, hook, sqlite_url):
    """Full parity with the API: each step audited and notified like the API's, the
    notification delivered right away (the config named by $YUJING_CONFIG)."""
    import os
    import subprocess
    import sys

    config = tmp_path / "yujing.yaml"
    config.write_text(
        "notifications:\n  channels:\n"
        f"    oncall: {{type: webhook, url: '{hook.url}', secret_env: YUJING_WEBHOOK_SECRET}}\n"
        "  routes:\n    - channels: [oncall]\n"
        "      events: [acknowledged, started, commented, resolved, closed, reopened]\n"
    )
    store = TicketStore(sqlite_url)
    ticket = open_one(store)
    store.close()
    env = {**os.environ, "YUJING_CONFIG": str(config)}

    def tickets(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "monitor.cli", "tickets", *args, "--db", sqlite_url],
            capture_output=True, text=True, timeout=120, check=False, env=env,
        )  # fmt: skip

    steps = [
        ("ack", str(ticket.id), "--as", "li.wei"),
        ("start", str(ticket.id), "--as", "li.wei"),
        ("comment", str(ticket.id), "--as", "li.wei", "--comment", "site 12 card swapped"),
        (
            "resolve",
            str(ticket.id),
            "--as",
            "li.wei",
            "--outcome",
            "confirmed_fault",
            "--cause",
            "site_hardware",
        ),
        ("close", str(ticket.id), "--as", "li.wei"),
        ("reopen", str(ticket.id), "--as", "zhang.min", "--comment", "back again"),
    ]
    for step in steps:
        done = tickets(*step)
        assert done.returncode == 0, (step, done.stderr)
        assert "1 notification sent" in done.stdout, (step, done.stdout)
    events = [r.json()["event"] for r in hook.received]
    assert events == ["acknowledged", "started", "commented", "resolved", "closed", "reopened"]
    assert hook.received[2].json()["comment"] == "site 12 card swapped"
    refused = tickets("resolve", str(ticket.id), "--as", "someone.else", "--outcome", "false_alarm")
    assert refused.returncode == 3 and "refused" in refused.stderr
    shown = tickets("show", str(ticket.id))
    assert "li.wei comment: site 12 card swapped" in shown.stdout
    assert "+08:00" in shown.stdout and "1791" not in shown.stdout  # no epoch ms for people
