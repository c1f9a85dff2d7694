"""``yujing receive``: Prometheus remote write in, KPI readings out."""

from __future__ import annotations

import contextlib
import threading
from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import BootstrapOpt, ConfigOpt, PrefixOpt, err, load_or_exit

app = typer.Typer()


@app.command()
def receive(
    config: ConfigOpt = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 9201,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    bootstrap: BootstrapOpt = None,
    prefix: PrefixOpt = None,
    embedded: Annotated[
        bool,
        typer.Option(
            "--embedded",
            help="Feed an embedded pipeline (tickets in --db) instead of the raw KPI topic.",
        ),
    ] = False,
    db: Annotated[str, typer.Option(help="Ticket database, with --embedded.")] = (
        "sqlite:///var/yujing.db"
    ),
    out_dir: Annotated[
        Path, typer.Option("--out", help="Dead letters and notifications, with --embedded.")
    ] = Path("var/receive"),
) -> None:
    """Receive Prometheus remote write at POST /api/v1/write.

    The config's remote_write section says which metric is which KPI and which labels
    name region and site."""
    from monitor.importers.receiver import EmbeddedSink, KafkaSink, create_receiver
    from monitor.observability.logs import setup_logging
    from monitor.runners.api_server import serve_in_thread

    setup_logging("INFO")
    cfg = load_or_exit(config, to_run=True)
    if not cfg.remote_write.kpis:
        err.print(
            "the config's remote_write.kpis maps no metric to a KPI: every sample would be "
            "skipped (e.g. remote_write: {kpis: {site_packet_loss_percent: packet_loss}})",
            markup=False,
        )
        raise typer.Exit(2)
    sink: EmbeddedSink | KafkaSink
    if embedded:
        from monitor.cli.common import ensure_sqlite_dir, open_store
        from monitor.runners.embedded import build

        ensure_sqlite_dir(db)
        open_store(db).close()  # an unreachable or unknown database is said first
        run = build(cfg, db, out_dir, config_path=config)
        sink = EmbeddedSink(run.pipeline)
        where = f"the embedded pipeline (tickets in {db})"
    else:
        from monitor.cli.kafka import connected_settings

        s = connected_settings(bootstrap=bootstrap, topic_prefix=prefix)
        sink = KafkaSink(
            s.bootstrap, s.topics.name("kpis"), s.topics.name("deadletters"), s.security
        )
        where = f"{s.topics.name('kpis')} on {s.bootstrap}"
    app_ = create_receiver(lambda: cfg.remote_write, sink, sink.dead_letter)
    server = serve_in_thread(app_, host, port, "yujing-remote-write")
    err.print(f"remote write on http://{host}:{port}/api/v1/write -> {where}; Ctrl-C stops")
    with contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()
    server.stop()
