"""``yujing backtest`` on what an operator hands it."""

import os
import threading

from typer.testing import CliRunner

from monitor.cli.main import app
from tests.helpers import complaint, region


def test_a_backtest_reads_a_pipe(tmp_path):
    """``--data <(zcat export.jsonl.gz)``: a pipe has no count of lines before it is
    read, and the progress bar's "done/total" crashed on it (a TypeError, exit 1)."""
    fifo = tmp_path / "events.jsonl"
    os.mkfifo(fifo)
    lines = [region("r1", 20_000), complaint("2026-10-05T09:10:00Z", id_="c1")]

    def write() -> None:
        with fifo.open("wb") as pipe:
            pipe.write(b"\n".join(lines) + b"\n")

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    said = CliRunner().invoke(app, ["backtest", "--data", str(fifo)])
    writer.join(timeout=10)
    assert said.exit_code == 0, said.output
    assert "tickets" in said.stdout and "Traceback" not in said.output
