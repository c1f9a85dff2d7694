"""Shared fixtures: real components (Kafka) started by the suite, or given by the environment.

Locally a missing component skips its tests with the reason; under CI=true it fails them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(component: str, why: str) -> None:
    """A real component is not there: fail in CI, skip locally."""
    message = f"{component} unavailable: {why}"
    if IN_CI:
        pytest.fail(message + " (CI=true: a missing component is a failure)")
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Apache Kafka broker: $KAFKA_BOOTSTRAP, or one started from the project's jars."""
    given = os.environ.get("KAFKA_BOOTSTRAP")
    if given:
        yield given
        return
    for tool in ("java", "mvn"):
        if shutil.which(tool) is None:
            missing("kafka", f"{tool} is not installed")
    port = free_port()
    data = tmp_path_factory.mktemp("kafka")
    env = {**os.environ, "KAFKA_CONTROLLER_PORT": str(free_port())}
    started = subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "start", str(port), str(data)],
                             capture_output=True, text=True, env=env, timeout=600, check=False)
    if started.returncode != 0:
        missing("kafka", f"the local broker did not start:\n{started.stdout}\n{started.stderr}")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(ROOT / "scripts" / "kafka.sh"), "stop", str(data)],
                       capture_output=True, timeout=120, check=False)
