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


def test_labels_none_of_which_the_data_has_name_the_data_s_regions(tmp_path):
    """NAB's nyc_taxi.csv imported as region "nyc" and scored against its windows.json
    (keyed "nyc_taxi"): every label was left out, and nothing said what the data's
    regions were called. A long list is cut short."""
    import numpy as np
    import orjson

    from monitor.cli.common import listed
    from monitor.detection.hourly_file import HourlySeries

    assert listed(["a", "b", "c"], most=2) == "a, b and 1 more"
    assert listed(["a", "b"], most=2) == "a, b"
    hourly, labels = tmp_path / "h.npz", tmp_path / "windows.json"
    values = np.random.default_rng(1).poisson(20, (1, 3 * 7 * 24)).astype(float)
    HourlySeries(["nyc"], 1_404_172_800_000, {"complaints.total": values}).save(hourly)
    windows = {f"series_{i}": [["2014-07-10 00:00:00", "2014-07-11 00:00:00"]] for i in range(30)}
    labels.write_bytes(orjson.dumps(windows))
    said = CliRunner().invoke(
        app, ["backtest", "--hourly", str(hourly), "--labels", str(labels)], env={"COLUMNS": "300"}
    )
    assert said.exit_code == 0, said.output
    told = " ".join(said.output.split())
    assert "labels of 30 series with no data here left out of the scores" in told
    assert "series_26 and 10 more; the data's regions: nyc" in told, told
