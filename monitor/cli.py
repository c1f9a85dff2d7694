"""The ``yujing`` command line: simulate, run, demo."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path
from typing import Annotated

import orjson
import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from detectors.timeaxis import to_iso
from monitor.config.model import ConfigError, MonitorConfig, load_config
from monitor.lab.scorecard import Scorecard, score
from monitor.lab.simulate_events import SimConfig, read_labels, write
from monitor.observability.logs import setup_logging
from monitor.runners.embedded import EmbeddedRun, build, run_file

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
    help="Yujing (预警): early warning from complaints and network KPIs.",
)
err = Console(stderr=True)
out = Console()

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config", "-c", help="Monitor config YAML (default: the packaged default_config.yaml)."
    ),
]


def _load(path: Path | None) -> MonitorConfig:
    try:
        return load_config(path)
    except ConfigError as exc:
        err.print(f"[red]config rejected[/red] {exc.source}")
        for message in exc.messages:
            err.print(f"  {message}", markup=False, highlight=False)
        raise typer.Exit(2) from exc


@app.command()
def simulate(
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Directory for events.jsonl and labels.json.")
    ] = Path("var/sim"),
    seed: Annotated[int, typer.Option(help="Random seed; same seed, same data.")] = 7,
    regions: Annotated[int, typer.Option(min=1, max=5000)] = 50,
    weeks: Annotated[int, typer.Option(min=3, max=104)] = 5,
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
    err.print(f"wrote {n} events to {events} and {len(read_labels(labels))} incidents to {labels}")


def _sim_config(**kwargs: object) -> SimConfig:
    try:
        return SimConfig(**kwargs)  # type: ignore[arg-type]
    except ValueError as exc:
        err.print(f"[red]cannot simulate:[/red] {exc}")
        raise typer.Exit(2) from exc


def _progress_run(run: EmbeddedRun, events: Path, total: int | None, quiet: bool) -> None:
    if quiet:
        run_file(run, events)
        return
    with Progress(
        TextColumn("[bold]replaying"),
        BarColumn(),
        TextColumn("{task.completed:,} events"),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as bar:
        task = bar.add_task("replay", total=total)
        run_file(run, events, progress=lambda k: bar.advance(task, k))


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
        bool, typer.Option(help="After the replay, keep serving /metrics until interrupted.")
    ] = False,
) -> None:
    """Run the embedded pipeline over a JSONL file and list the tickets it opened."""
    setup_logging("WARNING")
    cfg = _load(config)
    _ensure_sqlite_dir(db)
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
    _progress_run(embedded, events, None, quiet=False)
    card = score(read_labels(labels), embedded.tickets.all()) if labels else None
    _print_report(embedded, card)
    if serve and metrics_port is not None:
        import threading

        err.print("replay done; serving /metrics until interrupted")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


def _ensure_sqlite_dir(url: str) -> None:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////:memory"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)


@app.command()
def demo(
    json: Annotated[bool, typer.Option("--json", help="Print the scorecard as JSON.")] = False,
    no_incidents: Annotated[
        bool, typer.Option("--no-incidents", help="Simulate the same world without incidents.")
    ] = False,
    seed: Annotated[int, typer.Option(help="Simulation seed.")] = 7,
    regions: Annotated[int, typer.Option(min=4, max=5000)] = 50,
    weeks: Annotated[int, typer.Option(min=3, max=104)] = 5,
    out_dir: Annotated[Path, typer.Option("--out", help="Working directory (recreated).")] = Path(
        "var/demo"
    ),
    config: ConfigOpt = None,
) -> None:
    """Simulate ~5 weeks x 50 regions with incidents, run everything, print the scorecard."""
    setup_logging("WARNING")
    cfg = _load(config)
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
    embedded = build(cfg, f"sqlite:///{out_dir / 'tickets.db'}", out_dir)  # type: ignore[arg-type]
    _progress_run(embedded, events, n, quiet=json)
    card = score(read_labels(labels_path), embedded.tickets.all())
    if json:
        sys.stdout.write(orjson.dumps(card.to_json(), option=orjson.OPT_INDENT_2).decode())
        sys.stdout.write("\n")
        return
    _print_report(embedded, card)


def _print_report(run: EmbeddedRun, card: Scorecard | None) -> None:
    stats = run.pipeline.stats
    offset = run.pipeline.config.timezone_offset_hours
    tickets = run.tickets.all()
    table = Table(title=f"Preemptive inspection tickets ({len(tickets)})")
    for column in (
        "#",
        "region",
        "metric",
        "detector",
        "observed",
        "baseline",
        "change",
        "department",
        "severity",
        "opened",
        "ack due",
    ):
        table.add_column(
            column, justify="right" if column in ("#", "observed", "baseline", "change") else "left"
        )
    for t in tickets:
        table.add_row(
            str(t.id),
            t.region,
            t.metric,
            t.detector,
            f"{t.observed:.4g}",
            f"{t.baseline:.4g}",
            "—" if t.change_pct is None else f"{t.change_pct:+.0f}%",
            t.department,
            t.severity,
            to_iso(t.opened_at, offset)[:16],
            to_iso(t.acknowledge_by, offset)[11:16],
        )
    out.print(table)
    dead = ", ".join(f"{k}={v}" for k, v in sorted(stats.dead_lettered.items())) or "none"
    out.print(
        f"events {stats.events_in:,} in {run.seconds:.1f}s "
        f"({stats.events_in / max(run.seconds, 1e-9):,.0f}/s), accepted "
        f"{stats.accepted:,}, dead letters: {dead}; hours judged {stats.ticks}, "
        f"findings {stats.findings}, corrections {stats.corrections}"
    )
    if card is None:
        return
    score_table = Table(title="Scorecard: injected incidents")
    for column in ("incident", "kind", "region", "metric", "caught", "delay", "ticket"):
        score_table.add_column(column)
    for inc in card.incidents:
        score_table.add_row(
            inc.id,
            inc.kind,
            inc.region,
            inc.metric,
            "[green]yes[/green]" if inc.caught else "[red]MISSED[/red]",
            "—" if inc.delay_hours is None else f"{inc.delay_hours:.0f} h",
            "—" if inc.ticket_id is None else ", ".join(f"#{i}" for i in inc.ticket_ids),
        )
    out.print(score_table)
    if card.false_alarms:
        for t in card.false_alarms:
            out.print(
                f"[yellow]false alarm[/yellow] #{t.id} {t.region} {t.metric} "
                f"({t.detector}) at {to_iso(t.first_hour, offset)}"
            )
    else:
        out.print("false alarms: none")


config_app = typer.Typer(no_args_is_help=True, help="Check monitor configurations.")
app.add_typer(config_app, name="config")


@config_app.command("validate")
def config_validate(
    files: Annotated[list[Path], typer.Argument(help="YAML config files to check.")],
) -> None:
    """Check configs; print every problem as FILE:LINE: FIELD: MESSAGE; exit 1 if any."""
    failed = False
    for path in files:
        try:
            cfg = load_config(path)
        except ConfigError as exc:
            failed = True
            for message in exc.messages:
                sys.stdout.write(message + "\n")  # one line each, never wrapped
            continue
        sys.stdout.write(
            f"{path}: ok ({len(cfg.detectors)} detector specs, "
            f"{len(cfg.metrics_needed())} metrics, {len(cfg.mutes)} mutes)\n"
        )
    if failed:
        raise typer.Exit(1)


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
    from monitor.lab.backtest import Comparison, run_backtest

    setup_logging("WARNING")
    if (data is None) == (hourly is None):
        err.print("[red]give one of --data (events) or --hourly (hourly aggregates)[/red]")
        raise typer.Exit(2)
    known = read_labels(labels) if labels else []
    configs = [(config.stem if config else "default", _load(config))]
    if compare is not None:
        configs.append((compare.stem, _load(compare)))
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
            Progress(
                TextColumn(f"[bold]backtest {name}"),
                BarColumn(),
                TextColumn("{task.completed:,}/{task.total:,}"),
                TimeElapsedColumn(),
                console=err,
                transient=True,
                disable=json,
            ) as bar,
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


tickets_app = typer.Typer(no_args_is_help=True, help="Inspection tickets from the command line.")
app.add_typer(tickets_app, name="tickets")
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Ticket database URL (default: $YUJING_DATABASE_URL or sqlite:///var/yujing.db).",
    ),
]


def _store(db: str | None) -> object:
    import os

    from alerts.database import SchemaOutdated
    from alerts.tickets.store import TicketStore

    try:
        return TicketStore(db or os.environ.get("YUJING_DATABASE_URL", "sqlite:///var/yujing.db"))
    except SchemaOutdated as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from exc


@tickets_app.command("list")
def tickets_list(
    db: DbOpt = None,
    state: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option()] = None,
) -> None:
    """List tickets (optionally by state or region)."""
    table = Table(title="Tickets")
    for column in (
        "#",
        "state",
        "owner",
        "region",
        "metric",
        "department",
        "severity",
        "level",
        "ack due",
    ):
        table.add_column(column)
    for t in _store(db).all():  # type: ignore[attr-defined]
        if (state and t.state != state) or (region and t.region != region):
            continue
        table.add_row(
            str(t.id),
            t.state,
            t.owner or "—",
            t.region,
            t.metric,
            t.department,
            t.severity,
            str(t.escalation_level),
            to_iso(t.acknowledge_by, 8)[:16],
        )
    out.print(table)


@tickets_app.command("show")
def tickets_show(ticket_id: int, db: DbOpt = None) -> None:
    """One ticket with its audit trail."""
    store = _store(db)
    ticket = store.get(ticket_id)  # type: ignore[attr-defined]
    if ticket is None:
        err.print(f"no ticket {ticket_id}")
        raise typer.Exit(1)
    sys.stdout.write(
        orjson.dumps(
            {
                "ticket": ticket.__class__.__name__
                and {name: getattr(ticket, name) for name in ticket.__slots__},
                "events": store.events(ticket_id),
            },
            option=orjson.OPT_INDENT_2,
        ).decode()
        + "\n"
    )  # type: ignore[attr-defined]


def _act(action: str, ticket_id: int, actor: str, comment: str, db: str | None) -> None:
    import time

    from alerts.tickets.lifecycle import Refused

    result = _store(db).transition(
        ticket_id,
        action,
        actor,
        comment,  # type: ignore[attr-defined]
        int(time.time() * 1000),
    )
    if isinstance(result, Refused):
        err.print(f"refused: {result.reason}", markup=False)
        raise typer.Exit(3)
    out.print(f"ticket {result.id}: {result.state} (owner {result.owner})")


ActorOpt = Annotated[str, typer.Option("--as", help="Who acts (recorded in the audit trail).")]


@tickets_app.command("ack")
def tickets_ack(ticket_id: int, actor: ActorOpt, comment: str = "", db: DbOpt = None) -> None:
    """Acknowledge: the first responder becomes the owner."""
    _act("acknowledge", ticket_id, actor, comment, db)


@tickets_app.command("resolve")
def tickets_resolve(ticket_id: int, actor: ActorOpt, comment: str = "", db: DbOpt = None) -> None:
    """Resolve (the owner only)."""
    _act("resolve", ticket_id, actor, comment, db)


topics_app = typer.Typer(no_args_is_help=True, help="Manage the monitor's Kafka topics.")
app.add_typer(topics_app, name="topics")

BootstrapOpt = Annotated[
    str | None,
    typer.Option(
        "--bootstrap",
        "-b",
        help="Kafka bootstrap servers (default: $KAFKA_BOOTSTRAP or 127.0.0.1:9092).",
    ),
]
PrefixOpt = Annotated[
    str | None,
    typer.Option("--prefix", help="Topic name prefix (default: $YUJING_TOPIC_PREFIX or yujing)."),
]


@topics_app.command("create")
def topics_create(
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
    partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Partitions per topic (default: "
            "$YUJING_PARTITIONS, else the config's "
            "topics.partitions).",
        ),
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Create the monitor's topics (idempotent; grows partition counts, never shrinks)."""
    import os

    from monitor.runners.faust.settings import WorkerSettings
    from monitor.runners.faust.topics import create_topics

    cfg = _load(config)
    if partitions is None and not os.environ.get("YUJING_PARTITIONS"):
        partitions = cfg.topics.partitions  # type: ignore[attr-defined]
    s = WorkerSettings.from_env(bootstrap=bootstrap, topic_prefix=prefix, partitions=partitions)
    created = create_topics(
        s.bootstrap, s.topics, s.partitions, retention_hours=cfg.topics.retention_hours
    )  # type: ignore[attr-defined]
    for name, what in created.items():
        out.print(f"{name}: {what}")


@topics_app.command("list")
def topics_list(bootstrap: BootstrapOpt = None, prefix: PrefixOpt = None) -> None:
    """List the monitor's topics and their partition counts."""
    from monitor.runners.faust.settings import WorkerSettings
    from monitor.runners.faust.topics import list_topics

    s = WorkerSettings.from_env(bootstrap=bootstrap, topic_prefix=prefix)
    for name, count in sorted(list_topics(s.bootstrap, s.topics).items()):
        out.print(f"{name}\t{count}")


@app.command()
def produce(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSONL events.")],
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
    rate: Annotated[
        float | None,
        typer.Option(min=1, help="Events per second (default: as fast as the broker takes them)."),
    ] = None,
) -> None:
    """Send a JSONL file into the raw topics, keyed by region."""
    from monitor.lab.produce import produce_lines
    from monitor.runners.faust.settings import WorkerSettings

    s = WorkerSettings.from_env(bootstrap=bootstrap, topic_prefix=prefix)
    total = sum(1 for _ in file.open("rb"))
    with (
        Progress(
            TextColumn("[bold]producing"),
            BarColumn(),
            TextColumn("{task.completed:,}/{task.total:,}"),
            TimeElapsedColumn(),
            console=err,
        ) as bar,
        file.open("rb") as fh,
    ):
        task = bar.add_task("produce", total=total)
        counts = produce_lines(
            fh, s.bootstrap, s.topics, rate=rate, progress=lambda k: bar.advance(task, k)
        )
    for topic, n in sorted(counts.items()):
        out.print(f"{topic}: {n:,}")


@app.command()
def api(
    db: DbOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8088,
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="user=token lines (default: $YUJING_API_TOKENS_FILE or $YUJING_API_TOKENS).",
        ),
    ] = None,
    anonymous_read: Annotated[bool, typer.Option(help="Allow reads without a token.")] = False,
    config: ConfigOpt = None,
    deliver: Annotated[
        bool,
        typer.Option(
            help="Also deliver the notification outbox and escalate SLA clocks (needs --config)."
        ),
    ] = False,
) -> None:
    """Serve the ticket HTTP API (OpenAPI at /docs) until interrupted."""
    import threading

    from alerts.notify.outbox import Dispatcher
    from alerts.tickets.api import TokenAuth
    from monitor.runners.api_server import housekeeping, start_api

    setup_logging("INFO")
    try:
        auth = TokenAuth.from_env(tokens_file, anonymous_read or None)
    except ValueError as exc:
        err.print(f"tokens: {exc}", markup=False)
        raise typer.Exit(2) from exc
    cfg = _load(config)
    store = _store(db)
    store.notifications = cfg.notifications  # type: ignore[attr-defined]
    server = start_api(
        store,
        auth,
        host,
        port,  # type: ignore[arg-type]
        links=cfg.notifications.links,
    )
    out.print(f"ticket API on http://{host}:{port} (OpenAPI: /openapi.json, docs: /docs)")
    stop = threading.Event()
    try:
        if deliver:
            dispatcher = Dispatcher.for_settings(
                store.engine,  # type: ignore[attr-defined]
                cfg.notifications,
            )
            housekeeping(store, dispatcher, stop)  # type: ignore[arg-type]
        else:
            server.thread.join()
    except KeyboardInterrupt:
        stop.set()
    finally:
        server.stop()


dashboards_app = typer.Typer(no_args_is_help=True, help="Grafana dashboards as code.")
app.add_typer(dashboards_app, name="dashboards")
DASHBOARD_DIR = Path(__file__).resolve().parent.parent / "dashboards" / "json"


@dashboards_app.command("build")
def dashboards_build(
    out_dir: Annotated[Path, typer.Option("--out", help="Where the JSON goes.")] = DASHBOARD_DIR,
    check: Annotated[bool, typer.Option(help="Only check that the files are up to date.")] = False,
) -> None:
    """Write the dashboards' JSON (committed next to Grafana's provisioning files)."""
    from dashboards.build import build_all, render, write_all

    if check:
        stale = [
            name
            for name, model in build_all().items()
            if not (out_dir / f"{name}.json").exists()
            or (out_dir / f"{name}.json").read_bytes() != render(model)
        ]
        if stale:
            err.print(f"out of date: {', '.join(stale)}; run `yujing dashboards build`")
            raise typer.Exit(1)
        out.print("dashboards are up to date")
        return
    for path in write_all(out_dir):
        out.print(f"wrote {path}")


@dashboards_app.command("push")
def dashboards_push(
    url: Annotated[str, typer.Option(help="Grafana base URL, e.g. http://localhost:3000")],
    token: Annotated[
        str, typer.Option(envvar="GRAFANA_TOKEN", help="Service account token ($GRAFANA_TOKEN).")
    ],
    folder: Annotated[str, typer.Option(help="Folder title (created if missing).")] = "Yujing",
) -> None:
    """Upload the dashboards into a folder; running it again updates them in place."""
    from dashboards.build import build_all
    from dashboards.push import push

    for name, uid, version in push(url, token, folder, build_all()):
        out.print(f"{name}: uid {uid}, version {version}")


outbox_app = typer.Typer(no_args_is_help=True, help="The notification outbox.")
app.add_typer(outbox_app, name="outbox")


@outbox_app.command("status")
def outbox_status(db: DbOpt = None) -> None:
    """Deliveries per channel and state (pending, delivered, dead)."""
    from alerts.notify.outbox import counts

    table = Table(title="Outbox")
    for column in ("channel", "state", "deliveries"):
        table.add_column(column)
    for (channel, state), n in sorted(counts(_store(db).engine).items()):  # type: ignore[attr-defined]
        table.add_row(channel, state, str(n))
    out.print(table)


@outbox_app.command("retry")
def outbox_retry(db: DbOpt = None, channel: Annotated[str | None, typer.Option()] = None) -> None:
    """Queue dead deliveries again (after fixing an endpoint or its credentials)."""
    from alerts.notify.outbox import retry_dead

    n = retry_dead(_store(db).engine, channel)  # type: ignore[attr-defined]
    out.print(f"{n} dead deliveries queued again")


@app.command()
def worker(
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
    db: Annotated[
        str | None,
        typer.Option(
            help="Ticket database URL (default: $YUJING_DATABASE_URL or sqlite:///var/yujing.db)."
        ),
    ] = None,
    config: ConfigOpt = None,
    web_port: Annotated[int | None, typer.Option(help="Port of this worker's web views.")] = None,
    partitions: Annotated[int | None, typer.Option(min=1)] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Faust data directory.")] = None,
) -> None:
    """Run a Faust worker; start several to share the partitions."""
    from monitor.runners.faust.app import run_worker
    from monitor.runners.faust.settings import WorkerSettings

    setup_logging("INFO")
    s = WorkerSettings.from_env(
        bootstrap=bootstrap,
        topic_prefix=prefix,
        database_url=db,
        config_path=config,
        web_port=web_port,
        partitions=partitions,
        data_dir=data_dir,
    )
    _load(s.config_path)
    if s.database_url.startswith("sqlite:///"):
        _ensure_sqlite_dir(s.database_url)
    run_worker(s)


if __name__ == "__main__":
    app()
