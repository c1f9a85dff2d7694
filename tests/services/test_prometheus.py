"""The dashboards against a real Prometheus scraping an embedded worker fed by the simulator:
every PromQL expression of every panel returns data; promtool accepts the exposition."""

from __future__ import annotations

import math
import os
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from alerts.tickets.store import TicketStore
from dashboards.build import build_all, queries
from monitor.lab.simulate_events import SimConfig, write
from tests.conftest import ROOT, free_port, launch_prometheus, missing
from tests.kafka_harness import wait_until
from tests.receivers import HttpReceiver

pytestmark = [pytest.mark.prometheus, pytest.mark.slow]
RATE_INTERVAL = "5m"


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    """Prometheus first, then `yujing run --metrics-port … --serve` over a simulated world:
    Prometheus scrapes the whole replay, then the worker keeps serving its final state."""
    tmp = tmp_path_factory.mktemp("worker")
    port = free_port()
    prom, prom_process = launch_prometheus(tmp, [f"127.0.0.1:{port}"])
    events, _labels, _n = write(SimConfig(regions=6, weeks=5), tmp / "sim")
    hook = HttpReceiver().start()
    config = tmp / "detectors.yaml"
    config.write_text(
        (ROOT / "monitor" / "config" / "default_config.yaml").read_text()
        + f"""
notifications:
  channels:
    oncall: {{type: webhook, url: "{hook.url}", unsigned: true}}
  routes:
    - channels: [oncall]
"""
    )
    log = (tmp / "run.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "monitor.cli",
            "run",
            str(events),
            "--config",
            str(config),
            "--db",
            f"sqlite:///{tmp / 't.db'}",
            "--out",
            str(tmp / "out"),
            "--metrics-port",
            str(port),
            "--serve",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={**os.environ, "COLUMNS": "200"},
    )
    yield {
        "metrics": f"127.0.0.1:{port}",
        "process": process,
        "log": tmp / "run.log",
        "hook": hook,
        "prometheus": prom,
        "db": f"sqlite:///{tmp / 't.db'}",
    }
    for proc in (process, prom_process):
        proc.terminate()
        proc.wait(timeout=30)
    hook.stop()


def served(worker) -> bool:
    if worker["process"].poll() is not None:
        raise AssertionError(f"worker died:\n{worker['log'].read_text()[-3000:]}")
    return b"serving /metrics" in worker["log"].read_bytes()


def test_promtool_accepts_the_exposition(worker):
    promtool = shutil.which("promtool")
    if promtool is None:
        missing("prometheus", "promtool (package prometheus) is not installed")
    wait_until(lambda: served(worker), 300, "the replay to finish", interval=0.5)
    exposition = httpx.get(f"http://{worker['metrics']}/metrics").content
    done = subprocess.run(
        [promtool, "check", "metrics"],
        input=exposition,
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, (done.stdout + done.stderr).decode()


def test_every_panel_query_returns_data(worker):
    prom = worker["prometheus"]

    def query(expr: str) -> dict:
        return httpx.get(f"{prom}/api/v1/query", params={"query": expr}, timeout=30).json()

    def query_range(expr: str) -> dict:
        now = time.time()
        return httpx.get(
            f"{prom}/api/v1/query_range",
            params={"query": expr, "start": now - 600, "end": now, "step": 1},
            timeout=30,
        ).json()

    wait_until(lambda: served(worker), 300, "the replay to finish", interval=0.5)
    final = httpx.get(f"http://{worker['metrics']}/metrics").text
    ticks = next(
        line.split()[-1]
        for line in final.splitlines()
        if line.startswith("yujing_detection_ticks_total ")
    )

    def scraped_final() -> bool:
        result = query("yujing_detection_ticks_total")["data"]["result"]
        return bool(result) and float(result[0]["value"][1]) == float(ticks)

    wait_until(scraped_final, 60, "Prometheus to scrape the finished replay", interval=0.5)

    # on-call works one ticket to its end: the review row's precision and times have data
    store = TicketStore(worker["db"])
    worked = next(t for t in store.all() if t.state == "open")
    at = int(time.time() * 1000)
    store.transition(worked.id, "acknowledge", "li.wei", "", at)
    store.transition(worked.id, "resolve", "li.wei", "", at + 1, "confirmed_fault", "capacity")
    store.close()
    wait_until(
        lambda: bool(query("yujing_review_precision")["data"]["result"]),
        60,
        "Prometheus to scrape the worked ticket's outcome",
        interval=0.5,
    )

    # the drill-down's $region: a region with a firing series and an open ticket, if any
    candidates = query(
        "count by (region) (max_over_time(yujing_detector_firing[10m]) == 1) "
        "and on(region) (yujing_region_open_tickets > 0)"
    )["data"]["result"]
    assert candidates, "the simulated world opened no ticket"
    region = candidates[0]["metric"]["region"]
    regions = httpx.get(
        f"{prom}/api/v1/label/region/values", params={"match[]": "yujing_region_complaints"}
    ).json()["data"]
    assert region in regions and len(regions) == 6  # the $region variable's options

    failures = []
    checked = 0
    for q in queries(build_all()):
        expr = (
            q.expr.replace("$region", region)
            .replace("$kpi", "packet_loss")  # one of the repeated panel's values
            .replace("$__rate_interval", RATE_INTERVAL)
            .replace("$__range", RATE_INTERVAL)
        )
        # annotations are range queries over the dashboard's time: the last ten minutes
        answer = query_range(expr) if q.panel.startswith("annotation") else query(expr)
        checked += 1
        if answer.get("status") != "success":
            failures.append(f"{q.dashboard} / {q.panel}: error {answer.get('error')}: {expr}")
            continue
        values = [
            float(v[1])
            for r in answer["data"]["result"]
            for v in (r["values"] if "values" in r else [r["value"]])
        ]
        if not values or all(math.isnan(v) for v in values):
            failures.append(f"{q.dashboard} / {q.panel}: no data: {expr}")
    assert checked >= 30
    assert failures == [], "panels without data:\n" + "\n".join(failures)
    # the drill-down's KPI panels name each KPI's unit (the legend, and Grafana's axis)
    (kpi_panel,) = {q.expr for q in queries(build_all()) if 'stat="mean"' in q.expr}
    expr = kpi_panel.replace("$region", region).replace("$kpi", "latency")
    shown = query(expr)["data"]["result"]
    assert [r["metric"]["unit"] for r in shown] == ["ms"], shown
