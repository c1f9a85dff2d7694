"""``yujing import``: an operator's exports in, as events or hourly values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import (
    WHOLE,
    ConfigOpt,
    command_group,
    err,
    hanging,
    load_or_exit,
    out,
    progress,
)

app = command_group(help="Import an operator's exports.")

Col = Annotated[str | None, typer.Option(help="Column name.", show_default=False)]


@app.command("csv")
def import_csv_command(
    source: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="The CSV export.")],
    output: Annotated[
        Path,
        typer.Option(
            "--out",
            "-o",
            help="events.jsonl (complaints, kpis: for run, produce, backtest --data) or "
            "hourly.npz (values: for backtest --hourly).",
        ),
    ],
    kind: Annotated[
        str | None, typer.Option(help="complaints | kpis | values (or in --mapping).")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="YAML: kind, columns, zone, recode."),
    ] = None,
    time: Col = None,
    region: Col = None,
    id: Col = None,
    category: Col = None,
    channel: Col = None,
    text: Col = None,
    site: Col = None,
    kpi: Col = None,
    value: Col = None,
    metric: Col = None,
    assume_timezone: Annotated[
        str | None,
        typer.Option(
            help="The zone of times written without an offset (+08:00, Asia/Shanghai); "
            "without it such times are rejected, never guessed."
        ),
    ] = None,
    time_format: Annotated[
        str | None, typer.Option(help="strptime format, when times are not ISO 8601.")
    ] = None,
    delimiter: Annotated[str | None, typer.Option(help="Field separator (default ,).")] = None,
    encoding: Annotated[
        str | None, typer.Option(help="The file's encoding (default utf-8, e.g. gbk).")
    ] = None,
    regions: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="CSV of region,subscribers: written first, as the region records.",
        ),
    ] = None,
    rejects: Annotated[
        Path | None,
        typer.Option(help="Where rejected rows go (default: next to --out, .rejects.csv)."),
    ] = None,
    constant: Annotated[
        list[str] | None,
        typer.Option(
            metavar="FIELD=VALUE",
            help="A value for every row, for a field the export has no column of "
            "(region=north-01, metric=complaints.total); repeatable.",
            show_default=False,
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Import a CSV export, each row accepted or rejected with its reason.

    A rejected row is reported with its line, column and reason, and kept in a file."""
    from alerts.notify.outbox import wall_ms
    from monitor.detection.hourly_file import HourlyFileError, TooManyValues
    from monitor.events.file_magic import file_head, looks_like
    from monitor.importers.csv_import import import_csv, read_regions
    from monitor.importers.csv_rows import HeaderError, TimeBounds
    from monitor.importers.mapping import Kind, MappingError, load_mapping

    cfg = load_or_exit(config)  # its taxonomy: the names rows are checked against
    flags = {
        "kind": kind, "time": time, "region": region, "id": id, "category": category,
        "channel": channel, "text": text, "site": site, "kpi": kpi, "value": value,
        "metric": metric, "timezone": assume_timezone, "time_format": time_format,
        "delimiter": delimiter, "encoding": encoding,
    }  # fmt: skip
    constants = {}
    for given in constant or []:
        name, sep, value = given.partition("=")
        if not sep or not name.strip() or not value.strip():
            err.print(f"--constant: {given!r} is not FIELD=VALUE", markup=False)
            raise typer.Exit(2)
        constants[name.strip()] = value.strip()
    if constants:
        flags["constants"] = constants
    try:
        columns = load_mapping(mapping, flags)
    except MappingError as exc:
        err.print(f"mapping: {exc}", markup=False)
        raise typer.Exit(2) from exc
    allowed = {Kind.COMPLAINTS: (".jsonl", ".npz"), Kind.KPIS: (".jsonl",), Kind.VALUES: (".npz",)}
    if output.suffix not in allowed[columns.kind]:
        err.print(
            f"--out: {columns.kind.value} are written to a {' or '.join(allowed[columns.kind])} "
            "file (events, or the hourly file)",
            markup=False,
        )
        raise typer.Exit(2)
    adding = output.suffix == ".npz" and output.exists()
    try:
        reference = read_regions(regions, columns.recode.get("region")) if regions else None
    except (OSError, ValueError) as exc:
        err.print(f"--regions: {exc}", markup=False)
        raise typer.Exit(2) from exc
    kind = looks_like(file_head(source))
    if kind is not None:  # (its bytes were read as one header no column matched)
        err.print(f"{source}: {kind}, not a CSV export (save a sheet as CSV)", markup=False)
        raise typer.Exit(2)
    rejected_path = rejects or output.with_suffix(".rejects.csv")
    size = source.stat().st_size
    try:
        with progress(f"import {source.name}", in_bytes=True, transient=False) as bar:
            task = bar.add_task("rows", total=size)
            report = import_csv(
                source,
                columns,
                output,
                rejected_path,
                cfg.known_metrics,
                reference,
                seen=lambda n: bar.advance(task, n),
                taxonomy=cfg.vocabulary,
                bounds=TimeBounds(cfg.windows.to_window_config(), wall_ms()),
            )
    except (HeaderError, TooManyValues) as exc:
        err.print(f"{source}: {exc}", markup=False)
        raise typer.Exit(2) from exc
    except HourlyFileError as exc:  # the existing --out, to add to
        err.print(f"--out: {exc}", markup=False)
        raise typer.Exit(2) from exc
    except (LookupError, UnicodeError) as exc:  # an encoding Python does not know
        err.print(f"{source}: {exc}", markup=False)
        raise typer.Exit(2) from exc
    rejected = sum(report.rejected.values())
    out.print(
        f"{source.name}: {report.rows:,} rows, {report.accepted:,} accepted, {rejected:,} rejected",
        markup=False,
    )
    for reason, n in report.rejected.most_common():
        out.print(f"  {reason:<20} {n:>12,}", markup=False)
    for example in report.examples:
        out.print(hanging(f"  e.g. {example}", out.width, 7), **WHOLE)
    if rejected:
        out.print(f"rejected rows (line, column, reason, row): {rejected_path}", **WHOLE)
    if reference is None and output.suffix == ".jsonl":
        out.print(
            "no --regions: the events file has no region records; add them before "
            "replaying, or set windows.admit_regions: any",
            markup=False,
        )
    out.print(f"{'added to' if adding else 'wrote'} {output}", **WHOLE)
    if report.rows and not report.accepted:
        raise typer.Exit(1)


@app.command("prometheus")
def import_prometheus_command(
    url: Annotated[str, typer.Option(help="The Prometheus, e.g. http://prometheus:9090.")],
    query: Annotated[str, typer.Option(help="PromQL giving one series per site or region.")],
    start: Annotated[str, typer.Option(help="ISO 8601 with an offset, or epoch ms.")],
    end: Annotated[str, typer.Option(help="ISO 8601 with an offset, or epoch ms.")],
    metric: Annotated[
        str, typer.Option(help="The Yujing metric the samples are, e.g. kpi.packet_loss.mean.")
    ],
    output: Annotated[Path, typer.Option("--out", "-o", help="The hourly file (.npz).")],
    step: Annotated[int, typer.Option(help="Seconds between samples asked for.", min=1)] = 300,
    region_label: Annotated[str, typer.Option(help="The label naming the region.")] = "region",
    timeout: Annotated[float, typer.Option(help="Seconds per request.", min=1)] = 60.0,
    config: ConfigOpt = None,
) -> None:
    """Backfill a KPI from a Prometheus into the hourly file, for `backtest --hourly`.

    Range queries run in chunks; the samples of an hour combine as the metric's kind
    says."""
    import httpx

    from monitor.detection.hourly_file import HourlyFileError, TooManyValues
    from monitor.importers.csv_import import HourlyValues, combine_rule, save_hourly
    from monitor.importers.prometheus import PrometheusError, backfill
    from monitor.importers.times import TimeReader

    known = load_or_exit(config).known_metrics
    if metric not in known:
        kpis = sorted(m for m in known if m.startswith("kpi."))
        err.print(f"--metric: unknown metric {metric!r}; KPIs: {', '.join(kpis)}", markup=False)
        raise typer.Exit(2)
    if output.suffix != ".npz":
        err.print("--out: the hourly file is a .npz", markup=False)
        raise typer.Exit(2)
    try:
        first, last = (TimeReader().epoch_ms(t) for t in (start, end))
    except ValueError as exc:
        err.print(f"--start/--end: {exc}", markup=False)
        raise typer.Exit(2) from exc
    if last < first:
        err.print("--end is before --start", markup=False)
        raise typer.Exit(2)
    hourly = HourlyValues()
    try:
        with httpx.Client(timeout=timeout) as client:
            report = backfill(client, url, query, first, last, step, metric, region_label, hourly)
    except PrometheusError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from exc
    try:
        series = hourly.series()
    except TooManyValues as exc:
        err.print(f"{url}: {exc}", markup=False)
        raise typer.Exit(2) from exc
    if not report.samples:
        err.print(
            f"no samples with a {region_label} label between {start} and {end}: nothing written",
            markup=False,
        )
        raise typer.Exit(1)
    try:
        added = save_hourly(series, output)
    except HourlyFileError as exc:
        err.print(f"--out: {exc}", markup=False)
        raise typer.Exit(2) from exc
    out.print(
        f"{report.series:,} series, {report.samples:,} samples, {len(report.regions):,} "
        f"regions x {series.hours:,} hours ({combine_rule(metric)} per hour) "
        f"{'added to' if added else 'written to'} {output}",
        markup=False,
    )
    for reason, n in report.skipped.most_common():
        out.print(f"  skipped ({reason}): {n:,} samples", markup=False)
