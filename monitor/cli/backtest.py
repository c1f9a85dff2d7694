"""``yujing backtest``: what would a config have done on history?"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import err, load_or_exit, out, progress

app = typer.Typer()


@app.command()
def backtest(
    data: Annotated[
        Path | None,
        typer.Option(
            "--data", exists=True, dir_okay=False, help="Recorded or simulated events (JSONL)."
        ),
    ] = None,
    hourly: Annotated[
        Path | None,
        typer.Option(
            "--hourly",
            exists=True,
            dir_okay=False,
            help="Hourly aggregates instead of events (.npz; see docs/benchmarks.md).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config to test (default: the packaged default)."),
    ] = None,
    labels: Annotated[Path | None, typer.Option(help="labels.json of known incidents.")] = None,
    compare: Annotated[Path | None, typer.Option(help="A second config, side by side.")] = None,
    plots: Annotated[
        Path | None, typer.Option(help="Write one PNG per alerted series here.")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the results as JSON.")] = False,
) -> None:
    """Replay history through the same pipeline: what would this config have done?"""
    import orjson

    from monitor.lab.backtest import Comparison, run_backtest
    from monitor.lab.simulate_events import read_labels
    from monitor.observability.logs import setup_logging

    setup_logging("WARNING")
    if (data is None) == (hourly is None):
        err.print("[red]give one of --data (events) or --hourly (hourly aggregates)[/red]")
        raise typer.Exit(2)
    known = read_labels(labels) if labels else []
    configs = [(config.stem if config else "default", load_or_exit(config))]
    if compare is not None:
        configs.append((compare.stem, load_or_exit(compare)))
    results = []
    if hourly is not None:
        from monitor.detection.hourly_file import HourlySeries
        from monitor.lab.backtest import run_backtest_series

        for name, cfg in configs:
            needed = cfg.metrics_needed()  # type: ignore[attr-defined]
            series = HourlySeries.load(hourly, needed)
            results.append(
                run_backtest_series(
                    cfg,
                    series,
                    known,
                    name=name,  # type: ignore[arg-type]
                    keep_series=set(needed) if plots else None,
                )
            )
    assert data is not None or hourly is not None
    total = sum(1 for _ in data.open("rb")) if data is not None else 0
    for name, cfg in configs if data is not None else []:
        keep = set(cfg.metrics_needed()) if plots else None  # type: ignore[attr-defined]
        with (
            progress(f"backtest {name}", disable=json) as bar,
            data.open("rb") as fh,
        ):  # type: ignore[union-attr]
            task = bar.add_task("replay", total=total)
            results.append(
                run_backtest(
                    cfg,
                    fh,
                    known,
                    name=name,
                    keep_series=keep,  # type: ignore[arg-type]
                    progress=lambda k, t=task: bar.advance(t, k),
                )
            )
    if plots is not None:
        from monitor.lab.plots import plot_alerted_series

        for result in results:
            written = plot_alerted_series(result, known, plots / result.name)
            err.print(f"{len(written)} plots in {plots / result.name}")
    if json:
        doc = Comparison(*results).to_json() if len(results) == 2 else results[0].to_json()
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    _print_backtest(results, known)


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "—" if value is None else pattern.format(value)


def _print_backtest(results: list, labels: list) -> None:  # type: ignore[type-arg]
    from rich.table import Table

    table = Table(title="Backtest")
    table.add_column("")
    for r in results:
        table.add_column(r.name, justify="right")
    rows = [
        ("tickets", [str(len(r.tickets)) for r in results]),
        ("precision", [_fmt(r.precision()) for r in results]),
        ("recall", [_fmt(r.recall()) for r in results]),
        ("mean delay (h)", [_fmt(r.mean_delay(), "{:.0f}") for r in results]),
        (
            "false alarms / region-week",
            [_fmt(r.false_alarms_per_region_week, "{:.4f}") for r in results],
        ),
        ("replay seconds", [f"{r.seconds:.1f}" for r in results]),
    ]
    for title, cells in rows:
        table.add_row(title, *cells)
    out.print(table)
    for r in results:
        per = Table(title=f"{r.name}: per detector")
        for column in (
            "detector",
            "findings",
            "series",
            "caught",
            "recall",
            "precision",
            "mean delay (h)",
        ):
            per.add_column(column)
        for name, d in sorted(r.detectors.items()):
            doc = d.to_json(len(labels))
            per.add_row(
                name,
                str(d.findings),
                str(d.series),
                str(len(d.caught)),
                _fmt(doc["recall"]),
                _fmt(doc["precision"]),
                _fmt(doc["mean_delay_hours"], "{:.0f}"),
            )
        out.print(per)
    if len(results) == 2 and labels:
        from monitor.lab.backtest import Comparison

        only_a, only_b = Comparison(*results).only_caught_by()
        out.print(f"caught only by {results[0].name}: {', '.join(only_a) or 'none'}")
        out.print(f"caught only by {results[1].name}: {', '.join(only_b) or 'none'}")
