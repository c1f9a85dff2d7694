"""``yujing outbox``: the notification outbox."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.common import DbOpt, command_group, open_store, out

app = command_group(help="The notification outbox.")


@app.command("status")
def outbox_status(db: DbOpt = None) -> None:
    """Deliveries per channel and state (pending, delivered, dead)."""
    from rich.table import Table

    from alerts.notify.outbox import counts

    table = Table(title="Outbox")
    for column in ("channel", "state", "deliveries"):
        table.add_column(column)
    for (channel, state), n in sorted(counts(open_store(db).engine).items()):  # type: ignore[attr-defined]
        table.add_row(channel, state, str(n))
    out.print(table)


@app.command("retry")
def outbox_retry(
    db: DbOpt = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel's (default: all).")] = None,
) -> None:
    """Queue dead deliveries again (after fixing an endpoint or its credentials)."""
    from alerts.notify.outbox import retry_dead

    n = retry_dead(open_store(db).engine, channel)  # type: ignore[attr-defined]
    out.print(f"{n} dead deliveries queued again")
