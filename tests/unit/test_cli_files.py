"""A file the system refuses is said in a line naming it (``monitor.cli.main.main``)."""

import subprocess
import sys

from alerts.tickets.store import TicketStore


def test_an_out_path_that_cannot_be_written_is_named_not_a_traceback(tmp_path):
    """Every command that writes a file ended in a traceback when it could not."""
    url = f"sqlite:///{tmp_path / 't.db'}"
    TicketStore(url).close()
    (tmp_path / "a-file").write_text("not a directory")
    page = tmp_path / "a-file" / "review.html"
    done = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "report", "monthly", "--month", "2026-10",
         "--db", url, "--out", str(page)],
        capture_output=True, text=True, timeout=120, env={"COLUMNS": "200", "PATH": ""},
    )  # fmt: skip
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    said = f"{tmp_path / 'a-file'}: exists and is not a directory"
    assert done.stderr.strip() == said, done.stderr
