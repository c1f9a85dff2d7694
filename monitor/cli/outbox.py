"""``yujing outbox``: the notification outbox."""

from __future__ import annotations

from typing import Annotated

import typer

from monitor.cli.common import DbOpt, command_group, err, open_store, out

app = command_group(help="The notification outbox.")


@app.command("status")
def outbox_status(db: DbOpt = None) -> None:
    """Deliveries per channel and state (pending, delivered, dead)."""
    from rich.table import Table

    from alerts.notify.outbox import counts

    held = counts(open_store(db, must_exist=True).engine)  # type: ignore[attr-defined]
    if not held:
        out.print("The outbox is empty: no notification was queued in this database.")
        return
    table = Table(title="Outbox")
    for column in ("channel", "state", "deliveries"):
        table.add_column(column)
    for (channel, state), n in sorted(held.items()):
        table.add_row(channel, state, str(n))
    out.print(table)


@app.command("retry")
def outbox_retry(
    db: DbOpt = None,
    channel: Annotated[str | None, typer.Option(help="Only this channel's (default: all).")] = None,
) -> None:
    """Queue dead deliveries again (after fixing an endpoint or its credentials)."""
    from alerts.notify.outbox import counts, retry_dead

    engine = open_store(db, must_exist=True).engine  # type: ignore[attr-defined]
    known = sorted({name for name, _state in counts(engine)})
    if channel is not None and channel not in known:
        err.print(
            f"--channel: no delivery to {channel!r} in the outbox; "
            f"its channels: {', '.join(known) or 'none'}",
            markup=False,
        )
        raise typer.Exit(2)
    n = retry_dead(engine, channel)
    out.print(f"{n} dead {'delivery' if n == 1 else 'deliveries'} queued again")
