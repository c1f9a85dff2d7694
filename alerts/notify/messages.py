"""What a notification says: one payload per (ticket, event), rendered per channel.

The payload is frozen into the outbox when the event happens, so a retry hours later
sends what was true then, and every channel tells the same story: region, metric,
observed vs baseline, change, the detector's explanation, the ticket and Grafana links.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode

from alerts.notify.settings import Links, NotificationSettings
from alerts.outcomes import said
from alerts.sla import CLOCKS, acknowledged_at, late_text, resolved_at, running_clocks
from alerts.zones import local_text, zone_of
from detectors.numbers import WHOLE_FROM
from detectors.numbers import number as plain
from detectors.timeaxis import HOUR_MS, to_iso

DAY_MS = 24 * HOUR_MS
PAST_TENSE = {
    "acknowledge": "acknowledged",
    "start": "started",
    "comment": "commented",
    "resolve": "resolved",
    "close": "closed",
    "reopen": "reopened",
}


# what the department the ticket is routed to does first (the runbook says the rest)
ACTIONS = {
    "network_maintenance": "Inspect the region's sites (packet loss, signal, capacity) "
    "before the complaints mass.",
    "billing": "Check the latest billing run and the disputed charges of the region.",
    "field_service": "Check the region's install and repair backlog and the crews booked.",
    "service_coordinator": "Find the department that owns the cause and hand it over.",
}


# what a detector's ticket asks for, where the department's line would mislead
DETECTOR_ACTIONS = {
    "peak_congestion": "Plan capacity for the region's evening peak (its bandwidth nears "
    "saturation): a shortage, not a fault to repair.",
    "silence": "Find why the readings stopped: the silent sites (power, transmission) or "
    "the export that feeds Yujing.",
    "drop": "Check the region's complaint intake (hotline, app) and its sites' traffic: "
    "a collapse is an outage, not calm.",
}


def action_for(ticket: dict[str, Any]) -> str:
    """What the reader is to do now. A settled ticket asks nothing: its resolution, sent to
    every channel, told on-call to inspect the sites again. An evening capacity shortage
    is not a fault to inspect, nor a feed gone silent a region's packet loss."""
    state = ticket.get("state")
    if state in SETTLED_STATES:
        return f"Nothing to do: the ticket is {state}; reopen it if the problem comes back."
    detector, department = str(ticket.get("detector")), str(ticket.get("department"))
    return DETECTOR_ACTIONS.get(detector) or ACTIONS.get(department, ACTIONS["service_coordinator"])


def event_name(action: str) -> str:
    """Audit actions are verbs ("resolve"); notifications speak of what happened."""
    return PAST_TENSE.get(action, action)


def grafana_link(links: Links, region: str, first_hour: int, last_hour: int) -> str:
    """Region drill-down over the week before the anomaly up to a day after its last hour."""
    query = urlencode(
        {"var-region": region, "from": first_hour - 7 * DAY_MS, "to": last_hour + DAY_MS}
    )
    return f"{links.grafana.rstrip('/')}/d/{links.region_dashboard_uid}/region?{query}"


def build_payload(
    ticket: dict[str, Any],
    event: str,
    actor: str,
    comment: str,
    at: int,
    links: Links,
    timezone: str = "+00:00",
    runbook: str | None = None,
    unit: str = "",
    signal_unit: str = "",
) -> dict[str, Any]:
    """The JSON every channel starts from: the event, then the ticket as it describes
    itself (``TicketView.to_json``), then where a person clicks; times in UTC, and the
    operator's ``timezone`` that messages show them in; the metric's ``unit`` and its
    second signal's (``units_of``) if they have one."""
    return (
        {
            "event": event,
            "at": to_iso(at),
            "at_ms": at,
            "actor": actor,
            "comment": comment,
            "timezone": timezone,
            "action": action_for(ticket),
            "runbook_url": runbook,
            "unit": unit,
            "signal_unit": signal_unit,
        }
        | ticket
        | {
            "ticket_url": f"{links.tickets.rstrip('/')}/{ticket['ticket_id']}",
            "grafana_url": grafana_link(
                links, ticket["region"], ticket["first_hour_ms"], ticket["last_fired_hour_ms"]
            ),
        }
    )


ENDED = frozenset({"recovered", "resolved", "closed"})


def _ended(p: dict[str, Any]) -> bool:
    """The anomaly is over: the figures are the last finding's, not the present."""
    return p["event"] in ENDED


# what fired a two-signal detector's ticket: not the complaints' change, which may be
# nil (a capacity subject read "(+3%)" of an evening at its usual level, its utilisation
# at 95%)
FIRED_BY = {
    "peak_congestion": "capacity shortage",
    "site_fault": "site fault precursor",
}


def subject(p: dict[str, Any]) -> str:
    """One line (a mail header must not break: no CR or LF gets through); what fired it
    (the reading against its limit, a two-signal detector's verdict, else the change)
    only while it is current."""
    change, limit, unit = p.get("change_pct"), p.get("limit"), p.get("unit") or ""
    shown = ""
    if _ended(p):
        pass
    elif p.get("detector") in FIRED_BY:
        shown = f" ({FIRED_BY[p['detector']]})"
    elif limit is not None:
        shown = f" ({number(p['observed'], unit)}, limit {number(limit, unit)})"
    elif change is not None:
        shown = f" ({change:+.0f}%)"
    line = (
        f"[Yujing {p['severity'].upper()}] {p['event']}: ticket #{p['ticket_id']} "
        f"{p['region']} {p['metric']}{shown}"
    )
    return " ".join(line.split())


def local(p: dict[str, Any], name: str) -> str:
    """A payload time in the operator's zone, with the offset: 2026-10-05 20:00 +08:00."""
    try:
        return local_text(p[f"{name}_ms"], zone_of(p.get("timezone") or "+00:00"))
    except (KeyError, TypeError, ValueError, OverflowError):
        return str(p.get(name))


def number(value: float, unit: str = "") -> str:
    """The detectors' rule (``detectors.numbers``) with a unit: a measurement keeps one
    decimal when round (a limit of "1.0 %", not "1 %")."""
    shown = plain(value)
    if unit and shown.lstrip("-").isdigit() and abs(value) < WHOLE_FROM:
        shown += ".0"
    return f"{shown} {unit}" if unit else shown


def _against(
    observed: float, unit: str, limit: float | None, baseline: float | None, change: float | None
) -> str:
    """ "1.21 % (limit 1.0 %, normal ~0.2 %)", "195 (normal ~121, +61%)"."""
    parts = []
    if limit is not None:
        parts.append(f"limit {number(limit, unit)}")
    if baseline is not None:
        parts.append(f"normal ~{number(baseline, unit)}")
    if change is not None and limit is None:
        parts.append(f"{change:+.0f}%")
    return f"{number(observed, unit)} ({', '.join(parts)})" if parts else number(observed, unit)


def figures(p: dict[str, Any]) -> str:
    """Observed, the limit (if the detector has a fixed one) and the normal level, each
    named: "1.21 % (limit 1.0 %, normal ~0.2 %)", "195 (normal ~121, +61%)". A
    two-signal detector's verdict and its other series come first: its figures are the
    complaints', which may sit at their usual level ("7 (normal ~7, +0%)" read as nothing
    wrong on a site fault precursor's ticket, whose packet loss had gone from 0.24 to
    1.69 %)."""
    shown = _against(
        p["observed"], p.get("unit") or "", p.get("limit"), p["baseline"], p.get("change_pct")
    )
    # the verdict of the detector the figures are from: a site fault's ticket fed later
    # by the early trend's finding on its series shows a week's sums, no precursor's
    verdict = FIRED_BY.get(str(p.get("observed_by") or p.get("detector")))
    if verdict is None:
        return shown
    signal = p.get("signal")
    if isinstance(signal, dict) and isinstance(signal.get("observed"), int | float):
        unit = p.get("signal_unit") or ""
        read = _against(signal["observed"], unit, signal.get("limit"), signal.get("baseline"), None)
        return f"{verdict}: {signal.get('metric')} {read}; {p.get('metric')} at {shown}"
    return f"{verdict}; {p.get('metric')} at {shown}"


def units_of(ticket: dict[str, Any], settings: NotificationSettings | None) -> dict[str, str]:
    """The units a ticket's figures read in, its metric's and its other signal's, for a
    message, the ticket's page and the command line alike (the page and `tickets show`
    gave no unit: "1.21 (limit 1.0)")."""
    if settings is None:
        return {"unit": "", "signal_unit": ""}
    signal = ticket.get("signal")
    other = str(signal.get("metric", "")) if isinstance(signal, dict) else ""
    return {
        "unit": settings.unit_of(str(ticket.get("metric", ""))),
        "signal_unit": settings.unit_of(other) if other else "",
    }


def observed_at(p: dict[str, Any]) -> str:
    """The field naming the hour a ticket's figures are of: ``observed_hour``, or for a
    ticket from before it was kept, ``last_fired_hour``."""
    return "observed_hour" if p.get("observed_hour_ms") is not None else "last_fired_hour"


def judged_hours(p: dict[str, Any]) -> int:
    """How many hours the finding behind the figures judged (a 52-hour trend, a week's
    sum); 0 when the ticket predates the record of it."""
    start, last = p.get("window_start_ms"), p.get(f"{observed_at(p)}_ms")
    if not isinstance(start, int) or not isinstance(last, int) or start > last:
        return 0
    return (last - start) // HOUR_MS + 1


# the states of a ticket no SLA clock runs on (``TicketState`` less ``ACTIVE_STATES``;
# notify sits below tickets, and a test keeps the two in step)
SETTLED_STATES = frozenset({"resolved", "closed"})
# the service policy's three clocks as every reader sees them (messages, the ticket's page,
# the command line): the step that stops each (the command line once said "respond by" and
# "close by" where a message said "acknowledge by" and "resolve by")
DUE_WORDS = {"acknowledge": "acknowledge", "feedback": "first feedback", "resolve": "resolve"}


def next_due(p: dict[str, Any], brief: bool = False) -> str:
    """The next SLA clock still running when the event happened, as it ends the message's
    time line ("; first feedback by ..."); nothing on a resolved or closed ticket. (The
    message of an acknowledged ticket once still told its reader to acknowledge it.)
    ``brief``: month, day and time only ("; first feedback by 10-16 17:00"), for a list
    whose head names the zone (`tickets list`, the tickets' page)."""
    found = next_clock(p)
    if found is None:
        return ""
    clock, _due = found
    when = local(p, f"{clock}_by")
    return f"; {DUE_WORDS[clock]} by {when[5:16] if brief else when}"


def next_clock(p: dict[str, Any]) -> tuple[str, int] | None:
    """(clock, due) of the first SLA clock still running on a ticket (its JSON), the one
    the people on it must meet next; None once it is resolved or closed."""
    running = _running(p)
    return running[0] if running else None


def _running(p: dict[str, Any]) -> list[tuple[str, int]]:
    if p.get("state") in SETTLED_STATES:
        return []
    return running_clocks(
        str(p.get("state")),
        p.get("acknowledge_by_ms"),
        p.get("feedback_by_ms"),
        p.get("first_feedback_at_ms"),
        p.get("resolve_by_ms"),
    )


def _after(due: str, done: str) -> str:
    """``done`` without what it shares with ``due`` (both "2026-10-22 02:15 +08:00"): the
    date on the same day, the year and the offset in the same year."""
    if done[:10] == due[:10] and done[16:] == due[16:]:
        return done[11:16]
    return done[5:16] if done[:4] == due[:4] and done[16:] == due[16:] else done


def clock_facts(
    p: dict[str, Any], events: Sequence[Mapping[str, Any]] | None = None
) -> dict[str, str]:
    """Each service clock's due time, marked once it stopped: when it was done and, past
    due, how late ("(done 10-30 13:00, 5.5 d late)"); a clock stopped without
    the step ("(stopped)": resolved before anyone answered). A person scanning a ticket
    must not take a deadline already met for one still to meet, nor a breached one for
    met. ``events``: the ticket's audit, where the acknowledgement and the resolution are
    (a message's payload has only the first feedback: the others say "(stopped)")."""
    running = {clock for clock, _due in _running(p)}
    done = {"feedback": p.get("first_feedback_at_ms")}
    if events is not None:
        done |= {"acknowledge": acknowledged_at(events), "resolve": resolved_at(events)}
    facts = {}
    for clock in CLOCKS:
        shown = local(p, f"{clock}_by")
        at, due = done.get(clock), p.get(f"{clock}_by_ms")
        if at is not None and (clock == "feedback" or clock not in running):
            word = "given" if clock == "feedback" else "done"
            late = at - due if isinstance(due, int) else 0
            when = _after(shown, local(p | {"done_ms": at}, "done"))
            shown += f" ({word} {when}" + (f", {late_text(late)} late)" if late > 0 else ")")
        elif clock not in running:
            shown += " (stopped)"
        facts[clock] = shown
    return facts


def text(p: dict[str, Any]) -> str:
    """Plain text for e-mail and chat: the facts first, then where to click."""
    evidence = (
        f"Last finding {local(p, observed_at(p))}: {figures(p)}"
        if _ended(p)
        else f"Observed: {figures(p)}"
    )
    lines = [
        subject(p),
        f"Region: {p['region']}   Department: {p['department']}   State: {p['state']}"
        + (f"   Owner: {p['owner']}" if p.get("owner") else ""),
        f"Metric: {p['metric']} ({p['detector']})",
        evidence,
        *([f"Inspect first: {'; '.join(p['sites'])}"] if p.get("sites") else []),
        *([f"Outcome: {said(p['outcome'], p.get('cause'))}"] if p.get("outcome") else []),
        f"Why: {p['explanation']}",
        f"Action: {p.get('action') or ACTIONS['service_coordinator']}",
        *([f"Runbook: {p['runbook_url']}"] if p.get("runbook_url") else []),
        f"First fired {local(p, 'first_hour')}, last {local(p, 'last_fired_hour')}" + next_due(p),
    ]
    judged = judged_hours(p)
    if judged > 1:
        lines.append(f"Judged {judged} h: {local(p, 'window_start')} .. {local(p, observed_at(p))}")
    if p.get("comment") and p["comment"] != p["explanation"]:
        lines.append(f"Note ({p['actor']}): {p['comment']}")
    lines += [f"Ticket: {p['ticket_url']}", f"Grafana: {p['grafana_url']}"]
    return "\n".join(lines)


def mrkdwn_escape(value: str) -> str:
    """Slack's three control characters as entities: ``<!channel>``, ``<@user>`` and
    ``<http://evil|harmless>`` in a comment arrive as text, not as a ping or a link."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(p: dict[str, Any]) -> dict[str, Any]:
    """Slack incoming-webhook body: ``text`` as the fallback, blocks for the layout.

    Everything a person or a record wrote is escaped: Slack reads both ``text`` and the
    section as mrkdwn."""
    return {
        "text": mrkdwn_escape(subject(p)),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": subject(p)[:150]}},
            {"type": "section", "text": {"type": "mrkdwn", "text": mrkdwn_escape(text(p))}},
            {
                "type": "actions",
                "elements": [
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Ticket"},
                        "url": p["ticket_url"],
                    },
                    {
                        "type": "button",
                        "text": {"type": "plain_text", "text": "Grafana"},
                        "url": p["grafana_url"],
                    },
                    *(
                        [
                            {
                                "type": "button",
                                "text": {"type": "plain_text", "text": "Runbook"},
                                "url": p["runbook_url"],
                            }
                        ]
                        if p.get("runbook_url")
                        else []
                    ),
                ],
            },
        ],
    }


def alertmanager_alert(p: dict[str, Any], at_iso: str) -> dict[str, Any]:
    """One alert for POST /api/v2/alerts; labels identify it, so re-posting is idempotent.

    An active ticket fires until its resolution deadline (72 h), a recovered or ended one
    carries endsAt = now, which resolves it in Alertmanager.
    """
    ends = at_iso if _ended(p) or p["state"] in ("resolved", "closed") else p["resolve_by"]
    return {
        "labels": {
            "alertname": "YujingInspection",
            "ticket": str(p["ticket_id"]),
            "region": p["region"],
            "metric": p["metric"],
            "detector": p["detector"],
            "severity": p["severity"],
            "department": p["department"],
        },
        "annotations": {
            "summary": subject(p),
            "description": text(p),
            "explanation": p["explanation"],
            "ticket_url": p["ticket_url"],
            "grafana_url": p["grafana_url"],
            "observed": f"{p['observed']:.6g}",
            "baseline": f"{p['baseline']:.6g}",
            **({"runbook_url": p["runbook_url"]} if p.get("runbook_url") else {}),
            **({"sites": "; ".join(p["sites"])} if p.get("sites") else {}),
        },
        "startsAt": p["opened_at"],
        "endsAt": ends,
        "generatorURL": p["grafana_url"],
    }
