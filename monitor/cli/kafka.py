"""Commands for running on Kafka: topics, producing events, Faust workers."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import (
    BootstrapOpt,
    ConfigOpt,
    PrefixOpt,
    ensure_sqlite_dir,
    load_or_exit,
    out,
    progress,
)

app = typer.Typer()
topics = typer.Typer(no_args_is_help=True, help="Manage the monitor's Kafka topics.")


@topics.command("create")
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

    cfg = load_or_exit(config)
    if partitions is None and not os.environ.get("YUJING_PARTITIONS"):
        partitions = cfg.topics.partitions  # type: ignore[attr-defined]
    s = WorkerSettings.from_env(bootstrap=bootstrap, topic_prefix=prefix, partitions=partitions)
    created = create_topics(
        s.bootstrap, s.topics, s.partitions, retention_hours=cfg.topics.retention_hours
    )  # type: ignore[attr-defined]
    for name, what in created.items():
        out.print(f"{name}: {what}")


@topics.command("list")
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
        progress("producing", transient=False) as bar,
        file.open("rb") as fh,
    ):
        task = bar.add_task("produce", total=total)
        counts = produce_lines(
            fh, s.bootstrap, s.topics, rate=rate, progress=lambda k: bar.advance(task, k)
        )
    for topic, n in sorted(counts.items()):
        out.print(f"{topic}: {n:,}")


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
    from monitor.observability.logs import setup_logging
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
    load_or_exit(s.config_path, to_run=True)
    if s.database_url.startswith("sqlite:///"):
        ensure_sqlite_dir(s.database_url)
    run_worker(s)
