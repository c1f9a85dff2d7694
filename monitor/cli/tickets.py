"""``yujing tickets``: people work inspection tickets from the command line."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from monitor.config.model import MonitorConfig

from monitor.cli.common import (
    WHOLE,
    ActorOpt,
    DbOpt,
    command_group,
    counted,
    err,
    hanging,
    open_store,
    out,
    ticket_head,
)

app = command_group(help="Inspection tickets from the command line.")


def _choice(option: str, value: str | None, allowed: list[str]) -> str | None:
    """A filter value, or exit 2 naming the allowed ones (a typo is not an empty list)."""
    if value is not None and value not in allowed:
        err.print(f"{option}: {value!r} is none of {', '.join(allowed)}", markup=False)
        raise typer.Exit(2)
    return value


def operator_config() -> MonitorConfig:
    """The config the tickets are worked under ($YUJING_CONFIG, else the packaged
    default): its zone for times, its channels for notifications."""
    import os
    from pathlib import Path

    from monitor.cli.common import load_or_exit

    path = os.environ.get("YUJING_CONFIG")
    return load_or_exit(Path(path) if path else None)


@app.command("list")
def tickets_list(
    db: DbOpt = None,
    state: Annotated[
        str | None,
        typer.Option(help="open, acknowledged, in_progress, resolved or closed."),
    ] = None,
    region: Annotated[str | None, typer.Option(help="A region's name.")] = None,
    department: Annotated[
        str | None,
        typer.Option(help="network_maintenance, billing, field_service or service_coordinator."),
    ] = None,
    severity: Annotated[str | None, typer.Option(help="critical, major, minor or warning.")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, the newest.")] = 50,
) -> None:
    """List tickets, newest first (optionally by state, region, department, severity)."""
    from alerts.findings import Severity
    from alerts.notify.messages import next_due
    from alerts.taxonomy import Department
    from alerts.tickets.lifecycle import TicketState
    from alerts.tickets.text import printable

    _choice("--state", state, [s.value for s in TicketState])
    _choice("--department", department, [d.value for d in Department])
    _choice("--severity", severity, [s.value for s in Severity])
    config = operator_config()
    name = config.timezone
    store = open_store(db, must_exist=True)
    wanted, total = store.find(
        states=[state] if state else None,
        region=region,
        department=department,
        severity=severity,
        limit=limit,
    )
    store.close()
    shown = f"{total:,}" if total == len(wanted) else f"newest {len(wanted)} of {total:,}"
    # a block per ticket, as the demo's report, not a table: in 80 columns (an ssh
    # session, a CI log) a table of six columns left the metric 13 and folded it inside
    # its name ("install_rep" above "air_timeout")
    lines = [f"Tickets ({shown}; times in {name})"]
    for t in wanted:
        level = f", escalated to level {t.escalation_level}" if t.escalation_level else ""
        owner = f", owner {t.owner}" if t.owner else ""
        due = next_due(t.to_json() | {"timezone": name}, brief=True)
        lines += [*ticket_head(t), f"    {t.state}{level}{owner}{due}"]
    text = "\n".join(hanging(line, out.width, 4) for line in lines)
    out.print(printable(text), **WHOLE)  # an owner's name as stored: no escape goes raw
    if total > len(wanted):
        out.print(f"{total - len(wanted):,} older not shown: --limit {total} shows them all.")


@app.command("show")
def tickets_show(
    ticket_id: int,
    db: DbOpt = None,
    json: Annotated[bool, typer.Option("--json", help="The ticket and its audit as JSON.")] = False,
) -> None:
    """One ticket with its audit trail, in the operator's zone."""
    import orjson

    from alerts.notify.messages import (
        DUE_WORDS,
        action_for,
        clock_facts,
        figures,
        judged_hours,
        observed_at,
        units_of,
    )
    from alerts.outcomes import said
    from alerts.zones import local_iso

    store = open_store(db, must_exist=True)
    ticket = store.get(ticket_id)  # type: ignore[attr-defined]
    if ticket is None:
        err.print(f"no ticket {ticket_id}")
        raise typer.Exit(1)
    events = store.events(ticket_id)  # type: ignore[attr-defined]
    if json:
        doc = {"ticket": ticket.to_json(), "events": events}
        sys.stdout.write(orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n")
        return
    config = operator_config()
    zone = config.zone

    def when(ms: int | None) -> str:
        return "—" if ms is None else local_iso(ms, zone).replace("T", " ")  # type: ignore[arg-type]

    t = ticket.to_json() | {"timezone": config.timezone}
    t |= units_of(t, config.notifications)
    title = f"#{ticket.id} {ticket.title}"
    fields = [
        f"  state     {ticket.state}, {ticket.severity}, {ticket.department}"
        + (f", owner {ticket.owner}" if ticket.owner else ""),
        f"  observed  {figures(t)}",
        *([f"  sites     {'; '.join(ticket.sites)}"] if ticket.sites else []),
        *([f"  outcome   {said(ticket.outcome, ticket.cause)}"] if ticket.outcome else []),
        f"  why       {ticket.explanation}",
        f"  action    {action_for(t)}",
        *(
            f"  runbook   {d.runbook}"
            for d in config.detectors
            if d.id == ticket.spec_id and d.runbook
        ),
        f"  fired     {when(ticket.first_hour)} .. {when(ticket.last_fired_hour)}"
        f" ({counted(ticket.occurrences, 'finding')})",
        *(
            [f"  judged    {when(ticket.window_start)} .. {when(t[f'{observed_at(t)}_ms'])}"]
            if judged_hours(t) > 1
            else []
        ),
        *(
            f"  {'due' if i == 0 else '':9} {DUE_WORDS[clock]} {shown}"
            for i, (clock, shown) in enumerate(clock_facts(t, events).items())
        ),
        "  audit",
    ]
    audit = [
        f"    {when(e['at'])}  {e['actor']} {e['action']}"  # type: ignore[arg-type]
        + (f": {e['comment']}" if e["comment"] else "")
        for e in events
    ]
    width = out.width
    shown = [
        hanging(title, width, 2),
        *(hanging(line, width, 12) for line in fields),
        *(hanging(line, width, 6) for line in audit),
    ]
    from alerts.tickets.text import printable

    # comments and names as stored: an escape sequence in one is shown, never obeyed
    out.print(printable("\n".join(shown)), markup=False, highlight=False, overflow="fold")


def _act(
    action: str,
    ticket_id: int,
    actor: str,
    comment: str,
    db: str | None,
    outcome: str | None = None,
    cause: str | None = None,
) -> None:
    """One lifecycle step, as the API does it: audited, and told to the channels the
    config routes it to ($YUJING_CONFIG), delivered right away."""
    import time

    from alerts.notify.outbox import Dispatcher
    from alerts.tickets.lifecycle import Refused

    config = operator_config()
    store = open_store(db, must_exist=True)
    store.notifications = config.notifications  # type: ignore[attr-defined]
    result = store.transition(  # type: ignore[attr-defined]
        ticket_id, action, actor, comment, int(time.time() * 1000), outcome, cause
    )
    if isinstance(result, Refused):
        err.print(f"refused: {result.reason}", markup=False)
        raise typer.Exit(3)
    told = ""
    if config.notifications.channels:
        attempts = Dispatcher.for_settings(store.engine, config.notifications).run_once()  # type: ignore[attr-defined]
        told = f"; {counted(len(attempts), 'notification')} sent"
    out.print(f"ticket {result.id}: {result.state} (owner {result.owner or '—'}){told}")


Comment = Annotated[str, typer.Option(help="What was done or found (kept in the audit).")]


# command -> (lifecycle action, help): one step each, the comment optional
STEPS = {
    "ack": ("acknowledge", "Acknowledge: the first responder becomes the owner."),
    "start": ("start", "Start working on it (the owner only)."),
    "close": ("close", "Close the loop after resolution."),
    "reopen": ("reopen", "Reopen: the SLA clocks start again."),
}


def _step(action: str, help_text: str) -> Callable[..., None]:
    def command(ticket_id: int, actor: ActorOpt, comment: Comment = "", db: DbOpt = None) -> None:
        _act(action, ticket_id, actor, comment, db)

    command.__doc__ = help_text
    return command


for _name, (_action, _help) in STEPS.items():
    app.command(_name)(_step(_action, _help))


@app.command("resolve")
def tickets_resolve(
    ticket_id: int,
    actor: ActorOpt,
    outcome: Annotated[
        str,
        typer.Option(
            help="What it turned out to be: confirmed_fault, false_alarm, duplicate, "
            "no_action_needed."
        ),
    ],
    cause: Annotated[
        str | None,
        typer.Option(
            help="A confirmed fault's cause: site_hardware, capacity, transmission, "
            "billing_run, field_service_backlog, other."
        ),
    ] = None,
    comment: Comment = "",
    db: DbOpt = None,
) -> None:
    """Resolve (the owner only), saying what the ticket turned out to be."""
    _act("resolve", ticket_id, actor, comment, db, outcome, cause)


@app.command("comment")
def tickets_comment(ticket_id: int, actor: ActorOpt, comment: Comment, db: DbOpt = None) -> None:
    """Add a note: the first feedback stops the 24-hour clock."""
    _act("comment", ticket_id, actor, comment, db)


@app.command("export-labels")
def tickets_export_labels(
    month: Annotated[str, typer.Option(help="YYYY-MM, in the operator's zone.")],
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write here (default: stdout).")
    ] = None,
    db: DbOpt = None,
) -> None:
    """A month's outcomes as labels for `backtest --labels`.

    Confirmed faults become incidents; false alarms are listed beside them."""
    import orjson

    from alerts.zones import month_span
    from monitor.lab.labels import labels_from_outcomes

    config = operator_config()
    try:
        start, end = month_span(month, config.zone)
    except ValueError as exc:
        err.print(str(exc), markup=False)
        raise typer.Exit(2) from exc
    tickets = open_store(db, must_exist=True).all()  # type: ignore[attr-defined]
    doc = labels_from_outcomes(tickets, start, end)
    text = orjson.dumps(doc, option=orjson.OPT_INDENT_2).decode() + "\n"
    if out_file is None:
        sys.stdout.write(text)
        return
    out_file.write_text(text)
    err.print(
        f"{counted(len(doc['incidents']), 'confirmed fault')}, "  # type: ignore[arg-type]
        f"{counted(len(doc['false_alarms']), 'false alarm')} "  # type: ignore[arg-type]
        f"of {month} in {out_file}: yujing backtest --labels {out_file} ...",
        markup=False,
    )
