"""The remote-write receiver with the real Prometheus: a Prometheus scraping a site's
KPIs and configured with ``remote_write`` to Yujing; its samples arrive in the hourly
windows of the embedded pipeline, mapped by the config. Bad payloads answer 400 and are
kept as dead letters; the receiver stays up."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest

from monitor.config.load import parse_config
from monitor.importers.receiver import EmbeddedSink, create_receiver
from monitor.importers.remote_write import encode
from monitor.runners.api_server import serve_in_thread
from monitor.runners.embedded import build
from tests.conftest import free_port, launch_prometheus
from tests.kafka_harness import wait_until

pytestmark = pytest.mark.prometheus

EXPOSITION = (
    b"# TYPE site_packet_loss_percent gauge\n"
    b'site_packet_loss_percent{region="north-01",site="c1"} 0.4\n'
    b'site_packet_loss_percent{region="north-01",site="c2"} 0.6\n'
    b"# TYPE unrelated_metric gauge\n"
    b'unrelated_metric{region="north-01"} 7\n'
)
CONFIG = """\
windows: {admit_regions: any}
remote_write:
  kpis: {site_packet_loss_percent: packet_loss}
  site_label: site
"""


class _Target(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.end_headers()
        self.wfile.write(EXPOSITION)

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def receiver():
    config = parse_config(CONFIG, "test")
    run = build(config, "sqlite://")
    aggregates = []
    run.pipeline.observe(aggregate=aggregates.append)
    sink = EmbeddedSink(run.pipeline)
    app = create_receiver(lambda: config.remote_write, sink, sink.dead_letter)
    port = free_port()
    server = serve_in_thread(app, "127.0.0.1", port, "remote-write")
    yield f"http://127.0.0.1:{port}", app.state.stats, run, sink, aggregates
    server.stop()


def test_prometheus_remote_write_lands_in_the_hourly_windows(receiver, tmp_path):
    url, stats, run, sink, aggregates = receiver
    target = ThreadingHTTPServer(("127.0.0.1", 0), _Target)
    threading.Thread(target=target.serve_forever, daemon=True).start()
    more = (
        f"remote_write:\n  - url: {url}/api/v1/write\n"
        "    queue_config: {batch_send_deadline: 1s, min_backoff: 100ms}\n"
    )
    _, process = launch_prometheus(tmp_path, [f"127.0.0.1:{target.server_port}"], (), more)
    try:
        wait_until(lambda: stats.readings >= 6, 90, "remote-written readings of both sites")
    finally:
        process.terminate()
        process.wait(timeout=30)
        target.shutdown()
    assert stats.skipped["metric not in remote_write.kpis"] > 0, "unmapped series are told"
    with sink.lock:
        run.pipeline.finish()
        assert not run.pipeline.stats.dead_lettered, run.dead_letters.letters[:1]
    [north] = {a.region for a in aggregates}
    assert north == "north-01"
    samples, mean, top, _ = next(a.kpi["packet_loss"] for a in aggregates if a.kpi)
    assert samples >= 6 and mean == pytest.approx(0.5, abs=0.11) and top == pytest.approx(0.6)


def test_bad_payloads_answer_400_and_are_dead_letters(receiver):
    url, stats, run, sink, _ = receiver
    write = f"{url}/api/v1/write"
    garbage = httpx.post(write, content=b"\x05hello", headers={"Content-Encoding": "snappy"})
    assert garbage.status_code == 400 and "snappy" in garbage.text
    bomb = httpx.post(write, content=b"\xff\xff\xff\xff\x0f" + b"\x00" * 10)
    assert bomb.status_code == 400 and "expands to" in bomb.text
    plain = httpx.post(write, content=b"{}", headers={"Content-Encoding": "gzip"})
    assert plain.status_code == 400
    huge = httpx.post(write, content=b"\x00" * (11 * 2**20))
    assert huge.status_code == 413
    bad_value = encode(
        [({"__name__": "site_packet_loss_percent", "region": "north-02", "site": "c9"},
          [(1_790_000_000_000, 250.0)])]
    )  # fmt: skip
    assert httpx.post(write, content=bad_value).status_code == 204
    with sink.lock:
        letters = run.dead_letters.letters
        reasons = [letter.reason.value for letter in letters]
    assert reasons.count("invalid_format") == 4 and "out_of_range" in reasons
    assert sum(stats.refused.values()) == 4
    good = encode(
        [({"__name__": "site_packet_loss_percent", "region": "north-02", "site": "c9"},
          [(1_790_000_000_000, 0.25)])]
    )  # fmt: skip
    assert httpx.post(write, content=good).status_code == 204, "still up after all that"


@pytest.mark.kafka
def test_remote_write_to_the_raw_kpi_topic(kafka_bootstrap):
    """The worker deployment: readings keyed by region on the raw KPI topic (what the
    Faust workers read), refused bodies on the dead-letter topic."""
    import uuid

    from kafka import KafkaConsumer

    from monitor.importers.receiver import KafkaSink
    from monitor.runners.faust.security import KafkaSecurity
    from monitor.runners.faust.topics import TopicNames, create_topics

    names = TopicNames(f"rw{uuid.uuid4().hex[:6]}")
    create_topics(kafka_bootstrap, names, 2)
    config = parse_config(CONFIG, "test")
    sink = KafkaSink(
        kafka_bootstrap, names.name("kpis"), names.name("deadletters"), KafkaSecurity()
    )
    port = free_port()
    server = serve_in_thread(
        create_receiver(lambda: config.remote_write, sink, sink.dead_letter),
        "127.0.0.1", port, "rw-kafka",
    )  # fmt: skip
    try:
        body = encode(
            [({"__name__": "site_packet_loss_percent", "region": "north-07", "site": "c1"},
              [(1_790_000_000_000, 0.3), (1_790_000_060_000, 0.5)])]
        )  # fmt: skip
        write = f"http://127.0.0.1:{port}/api/v1/write"
        assert httpx.post(write, content=body).status_code == 204
        assert httpx.post(write, content=b"\x05junk").status_code == 400
    finally:
        server.stop()
        sink.close()

    def records(topic: str, count: int) -> list:
        consumer = KafkaConsumer(
            topic, bootstrap_servers=kafka_bootstrap, auto_offset_reset="earliest",
            consumer_timeout_ms=20_000,
        )  # fmt: skip
        got = []
        for record in consumer:
            got.append(record)
            if len(got) == count:
                break
        consumer.close()
        return got

    kpis = records(names.name("kpis"), 2)
    assert [r.key for r in kpis] == [b"north-07", b"north-07"]
    assert b'"kpi":"packet_loss","value":0.5' in kpis[1].value
    [dead] = records(names.name("deadletters"), 1)
    assert b'"reason":"invalid_format"' in dead.value
