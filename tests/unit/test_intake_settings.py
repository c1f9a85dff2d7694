"""The intake's settings: whether it runs on a process of its own, and a setting that
cannot be read refused by name (the process itself: tests/services/test_intake_process.py)."""

import pytest

from monitor.runners.faust.settings import WorkerSettings


@pytest.mark.parametrize(("value", "expected"), [("0", False), ("1", True), (" 1 ", True)])
def test_the_intake_process_is_set_from_the_environment(monkeypatch, value, expected):
    monkeypatch.setenv("YUJING_INTAKE_PROCESS", value)
    assert WorkerSettings.from_env().intake_process is expected


def test_a_wrong_intake_process_setting_is_refused_by_name(monkeypatch):
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
