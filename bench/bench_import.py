"""Benchmark: a million-row CRM export through ``yujing import csv``, in flat memory.

Writes a CSV of complaint rows (local times without an offset, Chinese labels recoded
by the documented example mapping, one row in a thousand malformed), imports it in a
fresh process, and reports rows per second and that process's peak memory, next to the
file's size: memory that does not grow with the file is the point.

    .venv/bin/python bench/bench_import.py [--rows 1000000]

Prints a table and writes JSON to bench/results/import.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "docs" / "examples"
CATEGORIES = ["宽带卡顿", "资费争议", "信号弱", "装机超时", "办理繁琐", "条款不清", "承诺未兑现"]
CHANNELS = ["热线", "APP", "网厅", "营业厅", "微博"]


def write_export(path: Path, rows: int, seed: int = 1) -> None:
    rng = np.random.default_rng(seed)
    start = np.datetime64("2026-09-01T00:00:00")
    with path.open("w", encoding="utf-8") as fh:
        fh.write("工单号,受理时间,区域,问题分类,渠道,描述\n")
        for chunk in range(0, rows, 100_000):
            n = min(100_000, rows - chunk)
            seconds = np.sort(rng.integers(0, 60 * 86_400, n))
            times = (start + seconds.astype("timedelta64[s]")).astype(str)
            regions = rng.integers(1, 1001, n)
            cats = rng.integers(0, len(CATEGORIES), n)
            chans = rng.integers(0, len(CHANNELS), n)
            lines = []
            for i in range(n):
                when = times[i].replace("T", " ")
                if (chunk + i) % 1000 == 999:
                    when = "昨天"  # a malformed row: rejected and kept, the rest goes on
                lines.append(
                    f"T-{chunk + i:08d},{when},north-{regions[i]:04d},"
                    f"{CATEGORIES[cats[i]]},{CHANNELS[chans[i]]},\n"
                )
            fh.write("".join(lines))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        source, out = Path(tmp) / "export.csv", Path(tmp) / "events.jsonl"
        write_export(source, args.rows)
        started = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable, "-m", "monitor.cli", "import", "csv", str(source),
                "--mapping", str(EXAMPLES / "crm-mapping.yaml"), "-o", str(out),
            ],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        if done.returncode != 0:
            sys.exit(done.stderr)
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        row = {
            "bench": "import_csv",
            "rows": args.rows,
            "file_mb": source.stat().st_size / 2**20,
            "seconds": seconds,
            "rows_per_s": args.rows / seconds,
            "peak_rss_mb": peak_mb,
            "summary": done.stdout.splitlines()[0],
        }
    print(f"{'rows':>10} {'file MB':>8} {'seconds':>8} {'rows/s':>9} {'peak MB':>8}")
    print(
        f"{row['rows']:>10,} {row['file_mb']:>8.0f} {seconds:>8.1f} "
        f"{row['rows_per_s']:>9,.0f} {peak_mb:>8.0f}"
    )
    print(row["summary"])
    results = ROOT / "bench" / "results"
    results.mkdir(exist_ok=True)
    (results / "import.json").write_text(json.dumps(row, indent=2) + "\n")


if __name__ == "__main__":
    main()
