"""The intake's check of a raw batch on a process of its own: the same answer as on the
worker's thread, a child that dies costs no batch, and a child outliving its worker (a
SIGKILLed one) exits by itself."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import pytest

from alerts.taxonomy import DEFAULT_TAXONOMY
from monitor.events.deadletters import Reason
from monitor.runners.faust.bundles import decode_bundle
from monitor.runners.faust.settings import WorkerSettings
from monitor.runners.faust.validation import IntakeRules, ValidationProcess, check_batch
from monitor.windows.aggregation import WindowConfig
from tests.helpers import T0

RULES = IntakeRules(DEFAULT_TAXONOMY, WindowConfig(), 4, {"raw.kpis": "kpi"})
WALL = T0 + 10 * 3_600_000


def sample(region: str, minute: int, value: float = 1.5) -> bytes:
    return (
        f'{{"type":"kpi","event_time":{T0 + minute * 60_000},"region":"{region}",'
        f'"site":"s1","kpi":"latency","value":{value}}}'
    ).encode()


RECORDS = [
    (sample("north", 1), "raw.kpis:0", 0),
    (b"   ", "raw.kpis:0", 1),  # blank
    (b'{"type": "kpi", "value": "high"}', "raw.kpis:0", 2),  # invalid
    (sample("south", 2), "raw.kpis:1", 0),
    (sample("north", 60 * 24 * 400), "raw.kpis:0", 3),  # a year ahead of the clock
    (sample("east", 3, 2.5), "raw.kpis:1", 1),
]


def contents(checked):
    bundles = {p: [decode_bundle(b) for b in bs] for p, bs in checked.bundles.items()}
    dead = [(d.reason, d.field, d.source, d.offset) for d in checked.dead]
    return checked.received, dead, bundles


def test_a_batch_is_checked_the_same_on_the_process_as_on_the_thread():
    here = check_batch(RECORDS, RULES, WALL)
    assert [d.reason for d in here.dead] == [Reason.EMPTY, Reason.MISSING_FIELD, Reason.BAD_TIME]
    assert sum(len(decode_bundle(b)) for bs in here.bundles.values() for b in bs) == 3
    validation = ValidationProcess()
    try:
        there = asyncio.run(validation.check(RECORDS, RULES, WALL))
    finally:
        validation.close()
    assert there is not None
    assert contents(there) == contents(here)


def test_a_dead_validation_process_costs_no_batch():
    """Killed between batches: that batch is answered None (the worker checks it itself)
    and the next one goes to a new process."""
    validation = ValidationProcess()

    async def run():
        first = await validation.check(RECORDS, RULES, WALL)
        (pid,) = validation._pool._processes  # the one child
        os.kill(pid, signal.SIGKILL)
        lost = await validation.check(RECORDS, RULES, WALL)
        again = await validation.check(RECORDS, RULES, WALL)
        return first, lost, again

    try:
        first, lost, again = asyncio.run(run())
    finally:
        validation.close()
    assert lost is None
    assert contents(again) == contents(first)


def test_the_validation_process_exits_when_its_worker_is_killed():
    code = (
        "import asyncio, os, sys\n"
        "from monitor.runners.faust.validation import ValidationProcess\n"
        "v = ValidationProcess()\n"
        "asyncio.run(v.check([], None, 0))\n"  # the child is up
        "print(*v._pool._processes, flush=True)\n"
        "sys.stdin.read()\n"  # killed while waiting here
    )
    parent = subprocess.Popen(
        [sys.executable, "-c", code], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    child = int(parent.stdout.readline())
    parent.kill()
    parent.wait(timeout=30)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and _alive(child):
        time.sleep(0.1)
    assert not _alive(child), "the validation process outlived its worker"


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(") ")[-1][0] != "Z"  # a zombie has exited
    except FileNotFoundError:
        return False


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("1", True), (" 1 ", True)])
def test_the_validation_process_is_set_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("YUJING_INTAKE_PROCESS", value)
    assert WorkerSettings.from_env().intake_process is expected


def test_a_wrong_validation_process_setting_is_refused_by_name(monkeypatch):
    monkeypatch.setenv("YUJING_INTAKE_PROCESS", "yes")
    with pytest.raises(ValueError, match="YUJING_INTAKE_PROCESS must be 0 or 1"):
        WorkerSettings.from_env()


@pytest.mark.parametrize(
    ("name", "value", "why"),
    [
        ("YUJING_BATCH_SIZE", "abc", "must be a whole number"),
        ("YUJING_SESSION_TIMEOUT", "soon", "must be a number"),
        ("YUJING_INTAKE_PROCESS", "yes", "must be 0 or 1"),
    ],
)
def test_a_worker_setting_that_cannot_be_read_is_one_line_naming_it(monkeypatch, name, value, why):
    """Read as on-call would at 3 a.m.: the variable and its value, no traceback."""
    from typer.testing import CliRunner

    from monitor.cli import app

    monkeypatch.setenv(name, value)
    done = CliRunner().invoke(app, ["worker"])
    assert done.exit_code == 2
    assert f"settings: {name} {why}, got {value!r}" in done.output
    assert "Traceback" not in done.output
