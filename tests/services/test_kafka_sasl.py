"""Production connectivity: the project's own broker with a SASL_SSL listener (SCRAM-SHA-512,
a throwaway CA made here); `topics`, `produce` and a worker connect through it, and a wrong
password is refused with a clear message."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest

from monitor.lab.simulate_events import SimConfig, write
from tests.conftest import ROOT, free_port, missing
from tests.kafka_harness import wait_until
from tests.receivers import ca_and_server_cert

pytestmark = pytest.mark.kafka
USER, PASSWORD = "yujing-worker", "scram-pass-0123456789"


def make_ca_and_broker_keystore(tmp: Path) -> tuple[Path, Path]:
    """Kafka's PEM keystore: the broker's key and certificate in one file."""
    ca, key, crt = ca_and_server_cert(tmp)
    keystore = tmp / "broker.pem"
    keystore.write_bytes(key.read_bytes() + crt.read_bytes())
    return ca, keystore


@pytest.fixture(scope="module")
def sasl_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    for tool in ("java", "mvn", "openssl"):
        if shutil.which(tool) is None:
            missing("kafka", f"{tool} is not installed")
    tmp = tmp_path_factory.mktemp("sasl")
    ca, keystore = make_ca_and_broker_keystore(tmp)
    plain, sasl = free_port(), free_port()
    env = {
        **os.environ,
        "KAFKA_CONTROLLER_PORT": str(free_port()),
        "KAFKA_SASL_SSL_PORT": str(sasl),
        "KAFKA_SSL_KEYSTORE_PEM": str(keystore),
        "KAFKA_SCRAM_USER": USER,
        "KAFKA_SCRAM_PASSWORD": PASSWORD,
    }
    data = tmp / "data"
    started = subprocess.run(
        [str(ROOT / "scripts" / "kafka.sh"), "start", str(plain), str(data)],
        capture_output=True, text=True, env=env, timeout=600, check=False,
    )  # fmt: skip
    if started.returncode != 0:
        missing("kafka", f"the SASL_SSL broker did not start:\n{started.stdout}\n{started.stderr}")
    try:
        yield f"127.0.0.1:{sasl}", ca
    finally:
        subprocess.run(
            [str(ROOT / "scripts" / "kafka.sh"), "stop", str(data)],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip


def client_env(bootstrap: str, ca: Path, password: str = PASSWORD, **extra: str) -> dict:
    return {
        **os.environ,
        "KAFKA_BOOTSTRAP": bootstrap,
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": USER,
        "KAFKA_SASL_PASSWORD": password,
        "KAFKA_SSL_CAFILE": str(ca),
        "YUJING_TOPIC_PREFIX": "secure",
        "YUJING_APP_ID": "secure",
        "YUJING_PARTITIONS": "2",
        **extra,
    }


def yujing(*args: str, env: dict, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "monitor.cli", *args],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_topics_produce_and_a_worker_over_sasl_ssl(sasl_broker, tmp_path):
    bootstrap, ca = sasl_broker
    env = client_env(bootstrap, ca)
    created = yujing("topics", "create", env=env)
    assert created.returncode == 0, created.stderr
    assert "secure.hourly" in created.stdout
    events, _, _ = write(SimConfig(seed=3, regions=2, weeks=3, incidents=False), tmp_path / "sim")
    with events.open("ab") as fh:  # a line over the record limit stopped the producer
        fh.write(b'{"type": "complaint", "text": "' + b"x" * (2 << 20) + b'"}\n')
    produced = yujing("produce", str(events), env=env)
    assert produced.returncode == 0, produced.stderr
    assert "not sent: 1 line over the 1,048,576-byte record limit (line" in produced.stderr
    port = free_port()
    worker_env = {
        **env,
        "YUJING_WEB_PORT": str(port),
        "YUJING_DATABASE_URL": f"sqlite:///{tmp_path / 'tickets.db'}",
        "YUJING_DATA_DIR": str(tmp_path / "faust"),
        "YUJING_SESSION_TIMEOUT": "10",
    }
    log = tmp_path / "worker.log"
    with log.open("wb") as fh:
        worker = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "worker"],
            cwd=ROOT, env=worker_env, stdout=fh, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def judged() -> bool:
            assert worker.poll() is None, log.read_text()[-3000:]
            try:
                with urllib.request.urlopen(
                    f"http://127.0.0.1:{port}/yujing/status", timeout=2
                ) as response:
                    status = orjson.loads(response.read())
            except OSError:
                return False
            return status["readings_accepted"] > 0 and status["last_judged_hour"] is not None

        wait_until(judged, 180, "the worker to read and judge hours over SASL_SSL")
    finally:
        worker.terminate()
        try:
            worker.wait(60)
        except subprocess.TimeoutExpired:
            worker.kill()


def test_a_wrong_password_is_refused_with_a_clear_message(sasl_broker):
    bootstrap, ca = sasl_broker
    done = yujing("topics", "list", env=client_env(bootstrap, ca, password="not-the-password"))
    assert done.returncode == 2
    assert f"refused the credentials of '{USER}'" in done.stderr
    assert "Traceback" not in done.stderr


def test_a_broker_signed_by_another_ca_is_a_tls_problem(sasl_broker, tmp_path):
    bootstrap, _ = sasl_broker
    other_ca, _, _ = ca_and_server_cert(tmp_path)
    done = yujing("topics", "list", env=client_env(bootstrap, other_ca))
    assert done.returncode == 2
    assert f"TLS with Kafka at {bootstrap} failed" in done.stderr
    assert "certificate verify failed" in done.stderr
    assert "Traceback" not in done.stderr


def test_no_broker_at_the_address_is_said_so(tmp_path):
    bootstrap = f"127.0.0.1:{free_port()}"
    done = yujing("topics", "list", env=client_env(bootstrap, tmp_path / "unused.pem"))
    assert done.returncode == 2
    assert f"cannot reach Kafka at {bootstrap}" in done.stderr
