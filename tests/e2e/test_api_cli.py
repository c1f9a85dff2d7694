"""End to end on the real commands: a replay opens tickets and notifies a signed webhook
through the outbox; `yujing api` serves them and a person acknowledges over HTTP."""

from __future__ import annotations

import os
import subprocess
import sys

import httpx
import pytest

from monitor.config.load import load_config
from monitor.lab.simulate_events import SimConfig, write
from tests.conftest import ROOT, free_port
from tests.kafka_harness import wait_until
from tests.receivers import HttpReceiver

pytestmark = pytest.mark.slow
TOKEN = "li-wei-token-0123456789"


def test_replay_notifies_and_the_api_serves_the_tickets(tmp_path):
    events, _labels, _n = write(SimConfig(regions=8, weeks=5), tmp_path / "sim")
    hook = HttpReceiver(secret=b"hook-secret").start()
    config = tmp_path / "detectors.yaml"
    config.write_text(
        (ROOT / "monitor" / "config" / "default_config.yaml").read_text()
        + f"""
notifications:
  links:
    tickets: http://127.0.0.1:8088/api/v1/tickets
    grafana: http://127.0.0.1:3000
  channels:
    oncall:
      type: webhook
      url: {hook.url}
      secret_env: HOOK_SECRET
  routes:
    - channels: [oncall]
"""
    )
    load_config(config)  # valid, or the test is wrong
    db = f"sqlite:///{tmp_path / 'tickets.db'}"
    env = {**os.environ, "HOOK_SECRET": "hook-secret"}
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "monitor.cli",
                "run",
                str(events),
                "--config",
                str(config),
                "--db",
                db,
                "--out",
                str(tmp_path / "out"),
            ],
            capture_output=True,
            timeout=600,
            env=env,
            check=False,
        )
        assert done.returncode == 0, done.stderr.decode()[-2000:]
    finally:
        hook.stop()
    opened = [r.json() for r in hook.received if r.json()["event"] == "opened"]
    assert opened, "the replay opened no ticket"
    assert hook.rejected == []
    assert len(set(hook.keys())) == len(hook.keys())

    port = free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "api", "--db", db, "--port", str(port)],
        env={**env, "YUJING_API_TOKENS": f"li.wei={TOKEN}"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{base}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(up, 60, "the ticket API to listen", interval=0.2)
        auth = {"Authorization": f"Bearer {TOKEN}"}
        page = httpx.get(f"{base}/api/v1/tickets", headers=auth).json()
        assert page["total"] == len(opened)
        first = opened[0]["ticket_id"]
        assert httpx.post(f"{base}/api/v1/tickets/{first}/acknowledge").status_code == 401
        r = httpx.post(
            f"{base}/api/v1/tickets/{first}/acknowledge",
            headers=auth,
            json={"comment": "on my way to the site"},
        )
        assert r.status_code == 200 and r.json()["owner"] == "li.wei"
    finally:
        api.terminate()
        api.wait(timeout=30)
