"""Commands for running on Kafka: topics, producing events, Faust workers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from monitor.cli.common import (
    BootstrapOpt,
    ConfigOpt,
    PrefixOpt,
    command_group,
    counted,
    ensure_sqlite_dir,
    err,
    load_or_exit,
    out,
    progress,
    read_in_order,
)

if TYPE_CHECKING:
    from monitor.runners.faust.settings import WorkerSettings

app = typer.Typer()
topics = command_group(help="Manage the monitor's Kafka topics.")


def connected_settings(**overrides: object) -> WorkerSettings:
    """Worker settings from the environment and options, once the brokers accept them;
    else exit 2 with one line saying why (a refused password, a TLS failure, no broker,
    a setting that is not a number)."""
    from monitor.runners.faust.security import KafkaSecurityError, connection_problem
    from monitor.runners.faust.settings import SettingsError, WorkerSettings

    try:
        settings = WorkerSettings.from_env(**overrides)
    except KafkaSecurityError as exc:
        err.print(f"kafka: {exc}", markup=False)
        raise typer.Exit(2) from exc
    except SettingsError as exc:
        err.print(f"settings: {exc}", markup=False)
        raise typer.Exit(2) from exc
    problem = connection_problem(settings.bootstrap, settings.security)
    if problem is not None:
        err.print(problem, markup=False)
        raise typer.Exit(2)
    return settings


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

    from monitor.runners.faust.topics import create_topics

    cfg = load_or_exit(config)
    if partitions is None and not os.environ.get("YUJING_PARTITIONS"):
        partitions = cfg.topics.partitions  # type: ignore[attr-defined]
    s = connected_settings(bootstrap=bootstrap, topic_prefix=prefix, partitions=partitions)
    created = create_topics(
        s.bootstrap,
        s.topics,
        s.partitions,
        retention_hours=cfg.topics.retention_hours,
        security=s.security,
    )
    for name, what in created.items():
        out.print(f"{name}: {what}")


@topics.command("list")
def topics_list(bootstrap: BootstrapOpt = None, prefix: PrefixOpt = None) -> None:
    """List the monitor's topics and their partition counts."""
    from monitor.runners.faust.topics import list_topics

    s = connected_settings(bootstrap=bootstrap, topic_prefix=prefix)
    for name, count in sorted(list_topics(s.bootstrap, s.topics, s.security).items()):
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
    from monitor.events.parsing import MAX_RECORD_BYTES, TooLarge
    from monitor.lab.produce import produce_lines

    s = connected_settings(bootstrap=bootstrap, topic_prefix=prefix)
    order = read_in_order(file, "Sent in event-time order.")
    too_large: list[tuple[int, TooLarge]] = []

    def sendable() -> Iterator[bytes]:
        """The lines a broker takes: one over the record limit raised the producer's
        MessageSizeTooLargeError half-way through the file."""
        for number, line in order.numbered():
            if type(line) is TooLarge:
                too_large.append((number, line))
            else:
                yield line

    with progress("producing", transient=False) as bar:
        task = bar.add_task("produce", total=order.lines)
        counts = produce_lines(
            sendable(),
            s.bootstrap,
            s.topics,
            rate=rate,
            progress=lambda k: bar.advance(task, k),
            security=s.security,
        )
    for topic, n in sorted(counts.items()):
        out.print(f"{topic}: {n:,}")
    if too_large:
        number, line = too_large[0]
        err.print(
            f"not sent: {counted(len(too_large), 'line')} over the {MAX_RECORD_BYTES:,}-byte "
            f"record limit (line {number:,}: {line.size:,} bytes)",
            markup=False,
        )


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
    partitions: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Partitions per topic, as `topics create` made them (default: "
            "$YUJING_PARTITIONS or 4).",
        ),
    ] = None,
    data_dir: Annotated[Path | None, typer.Option(help="Faust data directory.")] = None,
) -> None:
    """Run a Faust worker; start several to share the partitions."""
    from monitor.observability.logs import setup_logging
    from monitor.runners.faust.app import run_worker

    setup_logging("INFO")
    s = connected_settings(
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
