"""The monitor's own alerting rules: valid for promtool, and their unit tests pass."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.conftest import ROOT, missing

pytestmark = pytest.mark.prometheus
RULES = ROOT / "deploy" / "prometheus" / "rules"
RULE_TESTS = ROOT / "deploy" / "prometheus" / "rule-tests"


def promtool(*args: str) -> subprocess.CompletedProcess[str]:
    if shutil.which("promtool") is None:
        missing("prometheus", "promtool is not installed (Debian's prometheus package)")
    return subprocess.run(
        ["promtool", *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_rule_files_are_valid():
    files = sorted(str(p) for p in RULES.glob("*.yml"))
    assert files
    done = promtool("check", "rules", *files)
    assert done.returncode == 0, done.stdout + done.stderr


def test_rule_unit_tests_pass():
    files = sorted(str(p) for p in RULE_TESTS.glob("*.yml"))
    assert files
    done = promtool("test", "rules", *files)
    assert done.returncode == 0, done.stdout + done.stderr
