"""Benchmark: detection quality of the default config, on real labelled data and on the
simulator. Prints two tables and writes JSON to bench/results/.

* NAB's count series (``../shared/datasets/nab-counts``, or ``--nab DIR``): each file is
  summed to hours and judged as one region's ``--metric`` (default ``complaints.total``)
  through the embedded runner (`yujing backtest --hourly` does the same); detections are
  ticket openings and re-fires, mapped to the last raw row of their hour, and scored with
  NAB's published rules next to the published detectors' scores.
* The simulator: every incident of seeds 2, 3, 4, 7 and 9 (caught, hours after onset and
  before its worst hour), and false alarms on the incident-free worlds of 5, 7, 11, 13.

    .venv/bin/python bench/bench_detection_quality.py [--skip-sim] [--metric M]
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import time
from pathlib import Path

import numpy as np

from detectors.timeaxis import HOUR_MS
from monitor.config.load import load_config
from monitor.detection.hourly_file import HourlySeries
from monitor.lab.backtest import BacktestResult, run_backtest, run_backtest_series
from monitor.lab.labels import parse, parse_time
from monitor.lab.scores import PROFILES, ScoredSeries, event_scores, nab_score
from monitor.lab.simulate_events import SimConfig, generate

ROOT = Path(__file__).resolve().parents[1]
NAB = ROOT.parent / "shared" / "datasets" / "nab-counts"
# standard / low FP / low FN on these 11 series, from NAB's published result files
PUBLISHED = {
    "ARTime": (82.6, 72.0, 88.4),
    "Numenta HTM": (68.9, 62.7, 73.1),
    "relativeEntropy": (63.5, 59.3, 66.9),
    "earthgeckoSkyline": (59.9, 39.4, 68.0),
    "Twitter ADVec": (51.8, 31.1, 60.0),
    "windowedGaussian": (44.6, 14.2, 56.1),
    "randomCutForest": (44.2, 43.1, 56.5),
    "random": (17.1, 10.1, 26.3),
}


def load_nab(directory: Path, metric: str) -> tuple[dict[str, np.ndarray], HourlySeries, list]:
    """(raw row times per series, the hourly sums as one region's ``metric`` each, labels)."""
    windows = json.loads((directory / "windows.json").read_text())
    rows: dict[str, np.ndarray] = {}
    hourly: dict[str, tuple[int, np.ndarray]] = {}  # region -> (first hour, sums)
    for name in sorted(windows):
        with (directory / name).open() as fh:
            reader = csv.reader(fh)
            next(reader)
            pairs = [(parse_time(t), float(v)) for t, v in reader]
        times = np.array([t for t, _ in pairs], dtype=np.int64)
        values = np.array([v for _, v in pairs])
        region = name.rsplit(".", 1)[0]
        rows[region] = times
        hours = times // HOUR_MS * HOUR_MS
        index = (hours - hours[0]) // HOUR_MS
        sums = np.zeros(int(index[-1]) + 1)
        np.add.at(sums, index, values)
        seen = np.zeros_like(sums, dtype=bool)
        seen[index] = True
        hourly[region] = (int(hours[0]), np.where(seen, sums, np.nan))
    regions = sorted(hourly)
    first = min(start for start, _ in hourly.values())
    last = max(start + (len(sums) - 1) * HOUR_MS for start, sums in hourly.values())
    matrix = np.full((len(regions), (last - first) // HOUR_MS + 1), np.nan)
    for i, region in enumerate(regions):
        start, sums = hourly[region]
        offset = (start - first) // HOUR_MS
        matrix[i, offset : offset + len(sums)] = sums
    return rows, HourlySeries(regions, first, {metric: matrix}), parse(windows)


def nab_table(directory: Path, metric: str) -> dict[str, object]:
    rows, series, labels = load_nab(directory, metric)
    regions = series.regions
    config = load_config()
    started = time.perf_counter()
    result = run_backtest_series(config, series, labels, name="default")
    seconds = time.perf_counter() - started

    def scored(detector: str | None = None) -> list[ScoredSeries]:
        """Per series: its raw rows, windows and detections (of one detector, or all)."""
        return [
            ScoredSeries(
                region,
                rows[region],
                [(lab.start, lab.end) for lab in labels if lab.region == region],
                [
                    d.hour
                    for d in result.detections
                    if d.region == region and detector in (None, d.detector)
                ],
            )
            for region in regions
        ]

    overall = scored()
    return {
        "metric": metric,
        "nab": {profile: nab_score(overall, profile) for profile in PROFILES},
        "events": event_scores(overall).to_json(),
        "per_detector": {
            name: event_scores(scored(name)).to_json()
            for name in sorted({d.detector for d in result.detections})
        },
        "detections": len(result.detections),
        "seconds": round(seconds, 1),
    }


def simulator_table() -> dict[str, object]:
    config = load_config()
    incidents = []
    for seed in (2, 3, 4, 7, 9):
        world, lines = generate(SimConfig(seed=seed))
        result = run_backtest(config, lines, world.labels)
        incidents += [
            {"seed": seed} | inc.to_json() | {"detector": _detector(result, inc.ticket_id)}
            for inc in result.scorecard.incidents
        ]
    quiet = []
    for seed in (5, 7, 11, 13):
        world, lines = generate(SimConfig(seed=seed, incidents=False))
        result = run_backtest(config, lines, [])
        quiet.append(
            {
                "seed": seed,
                "region_weeks": result.region_weeks,
                "false_alarms": len(result.scorecard.false_alarms),
                "per_50_region_weeks": 50
                * len(result.scorecard.false_alarms)
                / max(result.region_weeks, 1e-9),
            }
        )
    return {"incidents": incidents, "quiet": quiet}


def _detector(result: BacktestResult, ticket_id: int | None) -> str | None:
    return next((t.detector for t in result.tickets if t.id == ticket_id), None)


def _f(value: object, pattern: str = "{:.2f}") -> str:
    return "-" if value is None else pattern.format(value)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--nab", type=Path, default=NAB)
    parser.add_argument("--metric", default="complaints.total")
    parser.add_argument("--skip-sim", action="store_true")
    args = parser.parse_args()
    report: dict[str, object] = {"machine": platform.platform()}
    if (args.nab / "windows.json").exists():
        nab = nab_table(args.nab, args.metric)
        report["nab_counts"] = nab
        print(f"NAB count series as {nab['metric']} ({nab['seconds']} s)")
        print(f"{'detector':<20} {'standard':>9} {'low FP':>7} {'low FN':>7}")
        scores = nab["nab"]
        print(
            f"{'Yujing default':<20} {scores['standard']:>9.1f} {scores['low_fp']:>7.1f} "
            f"{scores['low_fn']:>7.1f}"
        )
        for name, (std, low_fp, low_fn) in PUBLISHED.items():
            print(f"{name:<20} {std:>9.1f} {low_fp:>7.1f} {low_fn:>7.1f}")
        e = nab["events"]
        print(
            f"events {e['caught']}/{e['events']} caught, precision {_f(e['precision'])}, "
            f"F1 {_f(e['f1'])}, {_f(e['false_alarms_per_series_week'])} false alarms per "
            f"series-week, median delay {_f(e['median_delay_hours'], '{:.0f}')} h"
        )
        for name, d in nab["per_detector"].items():
            print(
                f"  {name:<14} {d['detections']:>4} detections, {d['caught']} caught, "
                f"precision {_f(d['precision'])}"
            )
    else:
        print(f"no NAB data in {args.nab}: skipped")
    if not args.skip_sim:
        sim = simulator_table()
        report["simulator"] = sim
        print("\nSimulator incidents (default config)")
        print(f"{'seed':>4} {'incident':<28} {'caught':>6} {'onset+':>7} {'peak-':>6}  detector")
        for inc in sim["incidents"]:  # type: ignore[union-attr]
            print(
                f"{inc['seed']:>4} {inc['id']:<28} {'yes' if inc['caught'] else 'NO':>6} "
                f"{_f(inc['delay_hours'], '{:.0f}'):>7} {_f(inc['lead_hours'], '{:.0f}'):>6}  "
                f"{inc['detector'] or '-'}"
            )
        print("Incident-free worlds: false alarms")
        for q in sim["quiet"]:  # type: ignore[union-attr]
            print(
                f"  seed {q['seed']:>2}: {q['false_alarms']} in {q['region_weeks']:.0f} "
                f"region-weeks ({q['per_50_region_weeks']:.2f} per 50)"
            )
    out = ROOT / "bench" / "results" / "detection_quality.json"
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"\nwrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
