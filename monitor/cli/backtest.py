"""``yujing backtest``: what would a config have done on history?"""

from __future__ import annotations

import sys
from contextlib import closing
from datetime import tzinfo
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import (
    GLUE,
    WHOLE,
    counted,
    dead_letter_counts,
    dead_letter_examples,
    ensure_sqlite_dir,
    err,
    hanging,
    labels_or_exit,
    listed,
    load_or_exit,
    open_store,
    out,
    progress,
    read_in_order,
)

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
            help="Hourly aggregates instead of events (.npz; its layout: docs/bring-your-data.md).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option("--config", "-c", help="Config to test (default: the packaged default)."),
    ] = None,
    labels: Annotated[
        Path | None,
        typer.Option(
            help="Labelled events: incidents (yujing simulate), NAB-style anomaly windows "
            "or points per series (see docs/detectors.md)."
        ),
    ] = None,
    noc: Annotated[
        str | None,
        typer.Option(
            help="Play a 'staffed' NOC (recovered tickets stay open; a later episode "
            "re-fires them) or an 'unattended' one (they resolve themselves). Default: "
            "as the config's alerts.auto_resolve says."
        ),
    ] = None,
    compare: Annotated[Path | None, typer.Option(help="A second config, side by side.")] = None,
    plots: Annotated[
        Path | None, typer.Option(help="Write one PNG per ticket here: what its detector judged.")
    ] = None,
    json: Annotated[
        bool,
        typer.Option("--json", help="Print the results as JSON, with every ticket and detection."),
    ] = False,
    db: Annotated[
        str | None,
        typer.Option(
            help="Keep the tickets and their audit trail in this database (a SQLAlchemy "
            "URL, e.g. sqlite:///backtest.db) instead of a temporary one."
        ),
    ] = None,
    findings: Annotated[
        Path | None,
        typer.Option(help="Write every finding, hour by hour, to this file (JSON lines)."),
    ] = None,
) -> None:
    """Replay history through the same pipeline: what would this config have done?"""
    import orjson

    from monitor.config.model import NO_DETECTORS
    from monitor.detection.hourly_file import HourlyFileError
    from monitor.lab.backtest import NOCS, Comparison, finding_lines, run_backtest
    from monitor.observability.logs import setup_logging

    setup_logging("WARNING")
    if (data is None) == (hourly is None):
        err.print("[red]give one of --data (events) or --hourly (hourly aggregates)[/red]")
        raise typer.Exit(2)
    if noc is not None and noc not in NOCS:
        err.print(f"--noc: one of {', '.join(NOCS)}", markup=False)
        raise typer.Exit(2)
    known, alarms = labels_or_exit(labels)
    if compare is not None and data is not None and not data.is_file():
        err.print(f"--data {data} can be read once: write it to a file to compare two configs")
        raise typer.Exit(2)
    if compare is not None and (db is not None or findings is not None):
        err.print("--db and --findings keep one config's run: leave out --compare")
        raise typer.Exit(2)
    if db is not None:
        ensure_sqlite_dir(db)
        with closing(open_store(db)) as store:
            held = len(store.all())
        if held:
            err.print(f"--db {db} already holds {held} tickets: give a new database")
            raise typer.Exit(2)
    configs = [(config.stem if config else "default", load_or_exit(config))]
    if compare is not None:
        configs.append((compare.stem, load_or_exit(compare)))
    for name, cfg in configs:
        if not cfg.detectors:  # type: ignore[attr-defined]
            err.print(f"{name}: {NO_DETECTORS}", markup=False)
    results = []
    if hourly is not None:
        from monitor.detection.hourly_file import HourlySeries
        from monitor.lab.backtest import run_backtest_series

        for name, cfg in configs:
            needed = cfg.metrics_needed()  # type: ignore[attr-defined]
            try:
                series = HourlySeries.load(hourly, needed, known=cfg.known_metrics)  # type: ignore[attr-defined]
            except HourlyFileError as exc:
                err.print(f"--hourly: {exc}", markup=False)
                raise typer.Exit(2) from exc
            results.append(
                run_backtest_series(
                    cfg,
                    series,
                    known,
                    name=name,  # type: ignore[arg-type]
                    keep_series=set(needed) if plots else None,
                    noc=noc,
                    db_url=db,
                )
            )
    assert data is not None or hourly is not None
    order = read_in_order(data) if data is not None else None
    for name, cfg in configs if order is not None else []:
        keep = set(cfg.metrics_needed()) if plots else None  # type: ignore[attr-defined]
        # a pipe (``--data <(zcat export.gz)``) has no count of lines before it is read
        unit = "lines" if order.lines is None else None  # type: ignore[union-attr]
        with progress(f"backtest {name}", unit=unit, disable=json) as bar:
            task = bar.add_task("replay", total=order.lines)  # type: ignore[union-attr]
            results.append(
                run_backtest(
                    cfg,
                    order,  # type: ignore[arg-type]
                    known,
                    name=name,
                    keep_series=keep,  # type: ignore[arg-type]
                    progress=lambda k, t=task: bar.advance(t, k),
                    noc=noc,
                    db_url=db,
                )
            )
    if findings is not None:
        with findings.open("wb") as fh:
            fh.writelines(finding_lines(results[0]))
        err.print(f"{len(results[0].findings)} findings in {findings}", **WHOLE)
    if db is not None:
        err.print(f"{len(results[0].tickets)} tickets kept in {db}", **WHOLE)
    if plots is not None:
        from monitor.lab.plots import plot_tickets

        for result, (_, cfg) in zip(results, configs, strict=True):
            written = plot_tickets(result, known, plots / result.name, cfg)  # type: ignore[arg-type]
            shown = counted(len(written), "plot")
            err.print(f"{shown} (one per ticket) in {plots / result.name}", **WHOLE)
    if json:
        if len(results) == 2:
            doc = Comparison(*results).to_json(alarms)
        else:
            doc = results[0].to_json(alarms)
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    _print_backtest(results, known, alarms, [cfg for _, cfg in configs])


def _known_span(hours: int) -> str:
    """The known hours a detector needs, as a person counts them: "14 days" for 337 (two
    weeks and the hour judged), "10.5 days", or hours below two days."""
    whole = hours - 1 if hours % 24 == 1 else hours
    return f"{whole / 24:g}{GLUE}days" if whole >= 48 else f"{hours}{GLUE}hours"


def _fmt(value: float | None, pattern: str = "{:.2f}") -> str:
    return "—" if value is None else pattern.format(value)


def _print_backtest(results: list, labels: list, alarms: list, configs: list) -> None:  # type: ignore[type-arg]
    from rich.table import Table

    zone: tzinfo = configs[0].zone

    table = Table(title="Backtest", title_justify="left")
    table.add_column("")
    for r in results:
        table.add_column(r.name, justify="right")
    quality = [r.quality() for r in results]
    rows: list[tuple[str, list[str]]] = [
        ("NOC played", [q["noc"] for q in quality]),
        ("tickets", [str(len(r.tickets)) for r in results]),
        ("detections (opened + re-fired)", [str(len(r.detections)) for r in results]),
    ]
    if labels:
        events = [q["events"] for q in quality]
        rows += [
            ("labelled events", [str(e["events"]) for e in events]),
            ("caught", [str(e["caught"]) for e in events]),
            ("recall", [_fmt(e["recall"]) for e in events]),
            ("precision (detections)", [_fmt(e["precision"]) for e in events]),
            ("F1", [_fmt(e["f1"]) for e in events]),
            (
                "false alarms / series-week",
                [_fmt(e["false_alarms_per_series_week"]) for e in events],
            ),
            ("median delay (h)", [_fmt(e["median_delay_hours"], "{:.0f}") for e in events]),
        ]
        for profile, title in (
            ("standard", "standard"),
            ("low_fp", "low FP"),
            ("low_fn", "low FN"),
        ):
            rows.append((f"NAB {title}", [_fmt(q["nab"][profile], "{:.1f}") for q in quality]))
    if alarms:
        rows.append(
            (
                "known false alarms raised",
                [f"{len(r.repeats(alarms))} of {len(alarms)}" for r in results],
            )
        )
    rows.append(("replay seconds", [f"{r.seconds:.1f}" for r in results]))
    for title, cells in rows:
        table.add_row(title, *cells)
    out.print(table)
    for r, q, cfg in zip(results, quality, configs, strict=True):
        if labels and q["per_detector"]:
            per = Table(title=f"{r.name}: per detector (detections)", title_justify="left")
            for column in ("detector", "detections", "caught", "recall", "precision", "delay h"):
                per.add_column(column, justify="left" if column == "detector" else "right")
            for name, e in q["per_detector"].items():
                per.add_row(
                    name,
                    str(e["detections"]),
                    str(e["caught"]),
                    _fmt(e["recall"]),
                    _fmt(e["precision"]),
                    _fmt(e["median_delay_hours"], "{:.0f}"),
                )
            out.print(per)
        # one line a reason, each spec with its series: an imported series of one metric
        # left every other spec without data, a line each (nine for the default config)
        from monitor.detection.tick import UNJUDGED_REASONS  # (loaded by the run already)

        # a series too young or too gappy: how much a spec's detector needs to judge it
        needs = {spec.id: _known_span(spec.instance.min_known_hours()) for spec in cfg.detectors}
        unjudged = {
            why: ", ".join(
                f"{spec}{GLUE}{reasons[reason]}"  # a spec and its count on one line
                + ("" if reason == "no data" else f"{GLUE}(needs{GLUE}{needs[spec]})")
                for spec, reasons in sorted(r.unjudged.items())
                if reasons.get(reason)
            )
            for reason, why in UNJUDGED_REASONS.items()
        }
        if any(unjudged.values()):
            out.print(f"{r.name}: series not judged at the end, by spec:", **WHOLE)
            for why, specs in unjudged.items():
                if specs:
                    out.print(hanging(f"  {why}: {specs}", out.width, 4), **WHOLE)
        if r.intake is not None and r.intake.dead_lettered:  # what was not replayed, and why
            s = r.intake
            out.print(
                f"{r.name}: events {s.events_in:,} read, {s.accepted:,} accepted"
                + ("; nothing was judged" if not s.accepted else ""),
                **WHOLE,
            )
            said = [f"dead letters: {dead_letter_counts(s.dead_lettered)}"]
            for line in said + dead_letter_examples(s.dead_lettered, s.first_said):
                out.print(hanging(line, out.width, 7), **WHOLE)
        if r.labels_left_out:  # a labels file of more series than the data brought
            n = len(r.labels_left_out)
            said = (
                f"{r.name}: labels of {counted(n, 'series', 'series')} with no data here left "
                f"out of the scores: {listed(r.labels_left_out)}"
            )
            if not r.labels:  # none matched: a region named otherwise at the import?
                said += f"; the data's regions: {listed(r.regions) or 'none'}"
            out.print(hanging(said, out.width, 4), **WHOLE)
    if len(results) == 2 and labels:
        from alerts.zones import local_iso
        from monitor.lab.backtest import Comparison

        comparison = Comparison(*results)
        only_a, only_b = comparison.only_caught_by()
        for r, caught in zip(results, (only_a, only_b), strict=True):
            said = f"caught only by {r.name}: {', '.join(caught) or 'none'}"
            out.print(hanging(said, out.width, 4), **WHOLE)
        for r, opened in zip(results, comparison.only_opened_by(), strict=True):
            out.print(f"tickets only {r.name} opens: {len(opened) or 'none'}", markup=False)
            for t in opened:
                told = r.label_of(t.id) or "no labelled event"
                when = local_iso(t.opened_at, zone).replace("T", " ")  # as its plot's title
                line = f"  #{t.id} {t.region} {t.metric} ({t.detector}) opened {when}: {told}"
                out.print(hanging(line, out.width, 4), **WHOLE)
        if alarms:
            change = comparison.false_alarms(alarms)
            a, b = results[0].name, results[1].name
            for what, told in (
                ("avoided", f"{b} avoids (raised by {a})"),
                ("added", f"{b} raises, {a} not"),
            ):
                named = [x.describe() for x in change[what]]
                out.print(f"known false alarms {told}:", markup=False)
                for line in named or ["none"]:
                    out.print(f"  {line}", markup=False)
    elif alarms:
        raised = [x.describe() for x in results[0].repeats(alarms)]
        out.print(f"known false alarms {results[0].name} raises again:", markup=False)
        for line in raised or ["none"]:
            out.print(f"  {line}", markup=False)
