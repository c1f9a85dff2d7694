"""The import contract (pyproject's [tool.importlinter]) holds, and would catch a breach."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT

PACKAGES = ("monitor", "dashboards", "alerts", "detectors")
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(tree: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(LINT_IMPORTS), "--config", str(tree / "pyproject.toml"), "--no-cache"],
        cwd=tree,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tree)},
        timeout=120,
    )


def copy_tree(dest: Path) -> Path:
    for name in PACKAGES:
        shutil.copytree(ROOT / name, dest / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def test_the_tree_keeps_every_contract(tmp_path):
    done = lint(copy_tree(tmp_path))
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_an_upward_import_breaks_the_build(tmp_path):
    tree = copy_tree(tmp_path)
    base = tree / "detectors" / "base.py"
    base.write_text(base.read_text() + "\nfrom monitor.pipeline import Pipeline  # noqa\n")
    done = lint(tree)
    assert done.returncode == 1
    assert "detectors is not allowed to import monitor" in done.stdout


def test_faust_outside_the_runners_breaks_the_build(tmp_path):
    tree = copy_tree(tmp_path)
    tick = tree / "monitor" / "detection" / "tick.py"
    tick.write_text(tick.read_text() + "\nimport faust  # noqa\n")
    done = lint(tree)
    assert done.returncode == 1
    assert "Only the runners speak Faust BROKEN" in done.stdout
