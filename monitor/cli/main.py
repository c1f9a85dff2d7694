"""``yujing``: the command groups put together, and ``--version``."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from monitor.cli import (
    api,
    backtest,
    config,
    dashboards,
    importing,
    kafka,
    outbox,
    receive,
    replay,
    report,
    tickets,
)
from monitor.cli.common import command_group, err

app = command_group(
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Yujing (预警): early warning from complaints and network KPIs.",
)


def _version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"yujing {version('yujing')}")
        raise typer.Exit


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Yujing (预警): early warning from complaints and network KPIs."""


for commands in (replay.app, backtest.app, kafka.app, api.app, receive.app):
    app.registered_commands.extend(commands.registered_commands)
app.add_typer(config.app, name="config")
app.add_typer(tickets.app, name="tickets")
app.add_typer(kafka.topics, name="topics")
app.add_typer(dashboards.app, name="dashboards")
app.add_typer(outbox.app, name="outbox")
app.add_typer(importing.app, name="import")
app.add_typer(report.app, name="report")


def main() -> None:
    """The ``yujing`` command. A file the system refuses (an ``--out`` under a directory
    that cannot be made, no permission, a full disk) is said in a line naming it: every
    command that writes one ended in a traceback."""
    try:
        app()
    except BrokenPipeError:  # ``yujing tickets list | head``: the reader left
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        raise SystemExit(1) from None
    except OSError as exc:
        where = f"{exc.filename}: " if exc.filename else ""
        # (what a directory was to be made of: "File exists" told nothing)
        why = "exists and is not a directory" if isinstance(exc, FileExistsError) else None
        err.print(f"{where}{why or exc.strerror or exc}", markup=False, highlight=False)
        raise SystemExit(1) from None
    except Exception as exc:  # the ticket database's errors: sqlalchemy is imported late
        from alerts.database import DATABASE_AWAY, database_said

        if not isinstance(exc, DATABASE_AWAY):
            raise
        # locked past the wait, gone away mid-command: a line, not a traceback
        err.print(f"ticket database: {database_said(exc)}", markup=False, highlight=False)
        raise SystemExit(1) from None
