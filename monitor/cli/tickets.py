"""``yujing tickets``: people work inspection tickets from the command line."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from monitor.cli.common import ActorOpt, DbOpt, err, open_store, out

app = typer.Typer(no_args_is_help=True, help="Inspection tickets from the command line.")


@app.command("list")
def tickets_list(
    db: DbOpt = None,
    state: Annotated[str | None, typer.Option()] = None,
    region: Annotated[str | None, typer.Option()] = None,
) -> None:
    """List tickets (optionally by state or region)."""
    from rich.table import Table

    from detectors.timeaxis import to_iso

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
    for t in open_store(db).all():  # type: ignore[attr-defined]
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


@app.command("show")
def tickets_show(ticket_id: int, db: DbOpt = None) -> None:
    """One ticket with its audit trail."""
    import orjson

    store = open_store(db)
    ticket = store.get(ticket_id)  # type: ignore[attr-defined]
    if ticket is None:
        err.print(f"no ticket {ticket_id}")
        raise typer.Exit(1)
    sys.stdout.write(
        orjson.dumps(
            {
                "ticket": ticket.to_json(),
                "events": store.events(ticket_id),
            },
            option=orjson.OPT_INDENT_2,
        ).decode()
        + "\n"
    )  # type: ignore[attr-defined]


def _act(action: str, ticket_id: int, actor: str, comment: str, db: str | None) -> None:
    import time

    from alerts.tickets.lifecycle import Refused

    result = open_store(db).transition(
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


@app.command("ack")
def tickets_ack(ticket_id: int, actor: ActorOpt, comment: str = "", db: DbOpt = None) -> None:
    """Acknowledge: the first responder becomes the owner."""
    _act("acknowledge", ticket_id, actor, comment, db)


@app.command("resolve")
def tickets_resolve(ticket_id: int, actor: ActorOpt, comment: str = "", db: DbOpt = None) -> None:
    """Resolve (the owner only)."""
    _act("resolve", ticket_id, actor, comment, db)
