"""A first install prints nothing to worry about: the package builds without warnings."""

import shutil
import subprocess
import sys

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("editable", [False, True], ids=["wheel", "editable"])
def test_the_package_builds_without_warnings(tmp_path, editable):
    """setuptools deprecated the licence table (three warnings per install) and warns of
    its import finder for this layout on an editable install (what `make` does)."""
    # a copy: a build writes build/ and *.egg-info beside the sources
    source = tmp_path / "src"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(
            ".git", ".venv", "var", "build", "*.egg-info", "__pycache__", ".*_cache"
        ),
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(tmp_path)]
        + (["-e"] if editable else [])
        + [str(source)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stderr
    said = built.stdout + built.stderr
    assert "Warning" not in said and "deprecat" not in said.lower(), said
