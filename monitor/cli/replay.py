"""Commands on the embedded runner: simulate a world, replay events, the demo."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.common import (
    WHOLE,
    ConfigOpt,
    dead_letter_counts,
    dead_letter_examples,
    ensure_sqlite_dir,
    err,
    hanging,
    labels_or_exit,
    load_or_exit,
    open_store,
    out,
    point_to,
    progress,
    read_in_order,
    ticket_head,
)

if TYPE_CHECKING:
    from monitor.lab.scorecard import Scorecard
    from monitor.lab.simulate_events import SimConfig
    from monitor.runners.embedded import EmbeddedRun

app = typer.Typer()


@app.command()
def simulate(
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for events.jsonl and labels.json.")
    ] = Path("var/sim"),
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 7,
    regions: Annotated[int, typer.Option(min=1, max=5000, help="Regions simulated.")] = 50,
    weeks: Annotated[int, typer.Option(min=3, max=104, help="Weeks simulated.")] = 5,
    no_incidents: Annotated[
        bool, typer.Option("--no-incidents", help="The same world without incidents.")
    ] = False,
    dirty: Annotated[
        bool, typer.Option("--dirty", help="Sprinkle malformed and late events.")
    ] = False,
    kpi_reports: Annotated[
        bool,
        typer.Option(
            "--kpi-reports",
            help="KPI readings as one "
            "report per site and hour (as OSS exports "
            "send them), not one event each.",
        ),
    ] = False,
    hourly: Annotated[
        bool,
        typer.Option(
            "--hourly",
            help="Write hourly aggregates "
            "(hourly.npz, for `backtest --hourly`) instead of "
            "raw events: months of many regions in seconds.",
        ),
    ] = False,
) -> None:
    """Write a deterministic simulated history with labelled incidents."""
    from monitor.lab.simulate_events import read_labels, write

    config = _sim_config(
        seed=seed,
        regions=regions,
        weeks=weeks,
        incidents=not no_incidents,
        dirty=dirty,
        kpi_reports=kpi_reports,
    )
    if hourly:
        from monitor.lab.simulate_events import write_labels
        from monitor.lab.simulate_hourly import simulate_hourly

        series, known = simulate_hourly(config)
        out_dir.mkdir(parents=True, exist_ok=True)
        series.save(out_dir / "hourly.npz")
        write_labels(config, known, out_dir / "labels.json")
        err.print(
            f"wrote {len(series.regions)} regions x {series.hours} hours to "
            f"{out_dir / 'hourly.npz'} and {len(known)} incidents to "
            f"{out_dir / 'labels.json'}"
        )
        return
    events, labels, n = write(config, out_dir)
    err.print(
        f"wrote {n} events to {events} and {len(read_labels(labels))} incidents to {labels}",
        **WHOLE,
    )


def _sim_config(**kwargs: object) -> SimConfig:
    from monitor.lab.simulate_events import SimConfig

    try:
        return SimConfig(**kwargs)  # type: ignore[arg-type]
    except ValueError as exc:
        err.print(f"[red]cannot simulate:[/red] {exc}")
        raise typer.Exit(2) from exc


def _progress_run(run: EmbeddedRun, events: Path, total: int | None, quiet: bool) -> None:
    from monitor.runners.embedded import run_file

    if quiet:
        run_file(run, events)
        return
    order = read_in_order(events)
    with progress("replaying", unit="events") as bar:
        task = bar.add_task("replay", total=total or order.lines)
        run_file(run, events, progress=lambda k: bar.advance(task, k), order=order)


@app.command()
def run(
    events: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="JSONL events (one JSON object per line)."
        ),
    ],
    config: ConfigOpt = None,
    db: Annotated[
        str, typer.Option(help="SQLAlchemy URL of the ticket database.")
    ] = "sqlite:///var/yujing.db",
    out_dir: Annotated[
        Path, typer.Option("--out", help="Dead letters and notifications go here.")
    ] = Path("var/run"),
    labels: Annotated[Path | None, typer.Option(help="Score against this labels.json.")] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(min=1, max=65535, help="Serve Prometheus metrics at /metrics on this port."),
    ] = None,
    metrics_host: Annotated[str, typer.Option(help="Address for /metrics.")] = "127.0.0.1",
    serve: Annotated[
        bool,
        typer.Option("--serve", help="After the replay, keep serving /metrics until interrupted."),
    ] = False,
    history: Annotated[
        Path | None,
        typer.Option(
            help="Write the per-region gauges of every judged hour, in event time, as "
            "OpenMetrics: `promtool tsdb create-blocks-from openmetrics FILE DIR` backfills "
            "Prometheus so the dashboards show the replayed weeks."
        ),
    ] = None,
) -> None:
    """Run the embedded pipeline over a JSONL file and list the tickets it opened."""
    from monitor.lab.scorecard import score
    from monitor.observability.logs import setup_logging
    from monitor.runners.embedded import build

    setup_logging("WARNING")
    cfg = load_or_exit(config, to_run=True)
    known, _alarms = labels_or_exit(labels)
    ensure_sqlite_dir(db)
    open_store(db).close()  # an unreachable or unknown database is said before the replay
    embedded = build(
        cfg,
        db,
        out_dir,
        config_path=config,  # type: ignore[arg-type]
        metrics=metrics_port is not None,
    )
    if embedded.pipeline.watcher is not None:
        embedded.pipeline.watcher.install_sighup()
    if embedded.metrics is not None and metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr=metrics_host, registry=embedded.metrics.registry)
        err.print(f"metrics on http://{metrics_host}:{metrics_port}/metrics")
    writer = None
    if history is not None:
        from monitor.observability.history import HistoryWriter

        writer = HistoryWriter(embedded.pipeline, history)
    _progress_run(embedded, events, None, quiet=False)
    if writer is not None:
        writer.close()
        point_to(
            f"history of {writer.hours} judged hours in {history}; backfill it with",
            f"promtool tsdb create-blocks-from openmetrics {history} <prometheus data dir>",
        )
    card = score(known, embedded.tickets.all()) if labels else None
    _print_report(embedded, card)
    point_to(f"tickets kept in {db}", f"yujing tickets list --db {db}")
    if serve and metrics_port is not None:
        import threading

        err.print("replay done; serving /metrics until interrupted")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


@app.command()
def demo(
    json: Annotated[bool, typer.Option("--json", help="Print the scorecard as JSON.")] = False,
    no_incidents: Annotated[
        bool, typer.Option("--no-incidents", help="Simulate the same world without incidents.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 7,
    regions: Annotated[int, typer.Option(min=4, max=5000, help="Regions simulated.")] = 50,
    weeks: Annotated[int, typer.Option(min=3, max=104, help="Weeks simulated.")] = 5,
    out_dir: Annotated[Path, typer.Option("--out", help="Working directory (recreated).")] = Path(
        "var/demo"
    ),
    config: ConfigOpt = None,
) -> None:
    """Simulate ~5 weeks x 50 regions with incidents, run everything, print the scorecard."""
    import orjson

    from monitor.lab.on_call import SimulatedOnCall
    from monitor.lab.scorecard import score
    from monitor.lab.simulate_events import read_labels, write
    from monitor.observability.logs import setup_logging
    from monitor.runners.embedded import build

    setup_logging("WARNING")
    cfg = load_or_exit(config, to_run=True)
    out_dir.mkdir(parents=True, exist_ok=True)
    for stale in (
        "tickets.db",
        "tickets.db-wal",
        "tickets.db-shm",
        "deadletters.jsonl",
        "notifications.jsonl",
    ):
        (out_dir / stale).unlink(missing_ok=True)
    sim = _sim_config(seed=seed, regions=regions, weeks=weeks, incidents=not no_incidents)
    if not json:
        err.print(
            f"simulating {weeks} weeks x {regions} regions (seed {seed}"
            f"{', no incidents' if no_incidents else ''}) ..."
        )
    events, labels_path, n = write(sim, out_dir)
    labels = read_labels(labels_path)
    embedded = build(cfg, f"sqlite:///{out_dir / 'tickets.db'}", out_dir)  # type: ignore[arg-type]
    on_call = SimulatedOnCall(embedded.tickets, labels)  # works the tickets as hours pass
    embedded.pipeline.observe(tick=on_call.hour_judged)
    _progress_run(embedded, events, n, quiet=json)
    on_call.finish()  # the steps due after the data's end
    card = score(labels, embedded.tickets.all())
    if not json:
        _print_report(embedded, card)
    review = _monthly_review(embedded, out_dir, regions)
    if json:
        doc = card.to_json() | {"review": str(review)}
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return
    point_to(
        f"tickets kept in {out_dir / 'tickets.db'}",
        f"yujing tickets list --db sqlite:///{out_dir / 'tickets.db'}",
    )
    point_to("the month's review (a simulated on-call worked the tickets)", str(review))


def _monthly_review(run: EmbeddedRun, out_dir: Path, regions: int) -> Path:
    """The review of the month most tickets fired in, written beside them and judged once
    the simulated on-call's work is done."""
    from collections import Counter

    from alerts.tickets.review import review_of
    from alerts.zones import local_iso
    from monitor.reports.monthly import render

    store, zone = run.tickets, run.pipeline.config.zone
    tickets = store.all()
    last = run.pipeline.stats.last_judged_hour or 0
    months = Counter(local_iso(t.first_hour, zone)[:7] for t in tickets)
    month = months.most_common(1)[0][0] if months else local_iso(last, zone)[:7]
    done = max((int(e["at"]) for t in tickets for e in store.events(t.id)), default=0)
    review = review_of(store, month, zone, max(last + 3_600_000, done), regions)
    path = out_dir / f"review-{month}.html"
    path.write_text(render(review, f"Yujing monthly review {month} (simulated)", zone))
    return path


def _print_report(run: EmbeddedRun, card: Scorecard | None) -> None:
    """A block per ticket and per incident, not a table: a long region or metric name
    stays whole in an 80-column terminal (an ssh session, a CI log)."""
    from alerts.notify.messages import figures, units_of
    from alerts.zones import local_iso

    stats = run.pipeline.stats
    config = run.pipeline.config
    tickets = run.tickets.all()

    def when(ms: int) -> str:
        return local_iso(ms, config.zone)[5:16].replace("T", " ")

    out.print(
        f"[bold]Preemptive inspection tickets[/bold] ({len(tickets)}; times in {config.timezone})"
    )
    for t in tickets:
        for line in ticket_head(t):
            out.print(line, markup=False)
        shown = t.to_json()
        shown |= units_of(shown, config.notifications)
        out.print(hanging(f"    {figures(shown)}", out.width, 8), **WHOLE)
        if t.sites:  # a site fault's evidence is its KPI: the complaints may be level yet
            out.print(hanging(f"    inspect {'; '.join(t.sites)}", out.width, 12), **WHOLE)
        out.print(f"    opened {when(t.opened_at)}, acknowledge by {when(t.acknowledge_by)}")
    dead = dead_letter_counts(stats.dead_lettered)
    # two lines, each whole: one at 80 columns broke "dead letters" in two
    out.print(
        f"events {stats.events_in:,} in {run.seconds:.1f}s "
        f"({stats.events_in / max(run.seconds, 1e-9):,.0f}/s): accepted "
        f"{stats.accepted:,}, duplicates {stats.duplicates:,}",
        **WHOLE,
    )
    out.print(
        hanging(
            f"dead letters: {dead}; hours judged {stats.ticks:,}, "
            f"findings {stats.findings:,}, corrections {stats.corrections:,}",
            out.width,
            4,
        ),
        **WHOLE,
    )
    for line in dead_letter_examples(stats.dead_lettered, stats.first_said):
        out.print(hanging(line, out.width, 7), **WHOLE)
    if card is None:
        return
    caught = sum(inc.caught for inc in card.incidents)
    out.print(
        f"[bold]Scorecard: injected incidents[/bold] ({caught} of {len(card.incidents)} caught)"
    )
    for inc in card.incidents:
        verdict = (
            "[green]caught[/green] by " + ", ".join(f"#{i}" for i in inc.ticket_ids)
            if inc.caught
            else "[red]MISSED[/red]"
        )
        out.print(f"{inc.id}  {verdict}")
        out.print(f"    {inc.region} {inc.metric}", markup=False)
        if inc.caught:
            after = "—" if inc.delay_hours is None else f"{inc.delay_hours:.0f} h"
            before = "—" if inc.lead_hours is None else f"{inc.lead_hours:.0f} h"
            out.print(f"    {after} after its onset, {before} before its peak")
    if card.false_alarms:
        for t in card.false_alarms:
            out.print(
                f"[yellow]false alarm[/yellow] #{t.id} {t.region} {t.metric} "
                f"({t.detector}) at {local_iso(t.first_hour, config.zone)}"
            )
    else:
        out.print("false alarms: none")
