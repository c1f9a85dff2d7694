"""``yujing api``: the ticket HTTP API for tools and people on the NOC floor."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from monitor.cli.common import WHOLE, ConfigOpt, DbOpt, err, load_or_exit, open_store, out

app = typer.Typer()


@app.command()
def api(
    db: DbOpt = None,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8088,
    tokens_file: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="user=token lines (default: $YUJING_API_TOKENS_FILE or $YUJING_API_TOKENS).",
        ),
    ] = None,
    anonymous_read: Annotated[
        bool, typer.Option("--anonymous-read", help="Allow reads without a token.")
    ] = False,
    config: ConfigOpt = None,
    deliver: Annotated[
        bool,
        typer.Option(
            "--deliver",
            help="Also deliver the notification outbox and escalate SLA clocks (needs --config).",
        ),
    ] = False,
) -> None:
    """Serve the ticket HTTP API (OpenAPI at /docs) until interrupted."""
    import threading

    from alerts.notify.outbox import Dispatcher
    from alerts.tickets.api import TokenAuth
    from monitor.observability.logs import setup_logging
    from monitor.runners.api_server import housekeeping, start_api

    setup_logging("INFO")
    try:
        auth = TokenAuth.from_env(tokens_file, anonymous_read or None)
    except ValueError as exc:
        err.print(f"tokens: {exc}", markup=False)
        raise typer.Exit(2) from exc
    cfg = load_or_exit(config, to_run=deliver)
    store = open_store(db)
    store.notifications = cfg.notifications  # type: ignore[attr-defined]
    server = start_api(
        store,
        auth,
        host,
        port,  # type: ignore[arg-type]
        links=cfg.notifications.links,
        timezone=cfg.timezone,
    )
    out.print(f"ticket API on http://{host}:{port} (tickets: /tickets, docs: /docs)", **WHOLE)
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
