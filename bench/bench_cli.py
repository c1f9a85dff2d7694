"""Benchmark: how long the command line takes to answer a person.

Each command is a fresh process, as when someone types it: ``yujing --help`` (imports
only), ``yujing --version`` and ``yujing tickets list`` on a ticket database of the
demo's size (built once, not timed). Median and worst of ``--runs`` runs.

    .venv/bin/python bench/bench_cli.py [--runs 15]

Prints a table and writes JSON to bench/results/cli.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"--help": 0.3, "--version": 0.3, "tickets list": 1.0}


def seed_database(url: str, tickets: int) -> None:
    """A ticket database with ``tickets`` open tickets (the demo opens a handful)."""
    from alerts.findings import Severity, SpecFinding
    from alerts.tickets.store import TicketStore
    from detectors.base import Finding
    from detectors.timeaxis import HOUR_MS

    store = TicketStore(url)
    with store.batch():
        for i in range(tickets):
            hour = 500_000 * HOUR_MS + i * HOUR_MS
            finding = Finding(
                "wow",
                f"region-{i:03d}",
                "complaints.broadband_lag",
                hour,
                130.0,
                100.0,
                30.0,
                1e-6,
                hour - 167 * HOUR_MS,
                hour + HOUR_MS,
                "rise",
            )
            store.open(f"k{i}", f"fp{i}", SpecFinding("spec", Severity.MAJOR, finding), hour)
    store.close()


def time_command(args: list[str], runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "monitor.cli", *args], cwd=ROOT, check=True, capture_output=True
        )
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--tickets", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/tickets.db"
        seed_database(url, args.tickets)
        commands = {
            "--help": ["--help"],
            "--version": ["--version"],
            "tickets list": ["tickets", "list", "--db", url],
        }
        rows = []
        for name, argv in commands.items():
            times = time_command(argv, args.runs)
            rows.append(
                {
                    "command": f"yujing {name}",
                    "median_s": statistics.median(times),
                    "max_s": max(times),
                    "target_s": TARGETS[name],
                    "met": statistics.median(times) < TARGETS[name],
                }
            )
    print(f"{'command':<22}{'median s':>10}{'max s':>10}{'target s':>10}  met")
    for r in rows:
        print(
            f"{r['command']:<22}{r['median_s']:>10.3f}{r['max_s']:>10.3f}"
            f"{r['target_s']:>10.1f}  {'yes' if r['met'] else 'NO'}"
        )
    out = ROOT / "bench" / "results" / "cli.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(
        json.dumps(
            {
                "bench": "cli",
                "runs": args.runs,
                "tickets": args.tickets,
                "python": platform.python_version(),
                "results": rows,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
