"""The ticket as a page a person opens from a message: the link on-call clicks at 3 a.m.

The JSON API wants a bearer token a browser does not send, so a link to it answered 401.
The page is a shell (no ticket data, no token) whose script sends the reader's token,
kept in the browser once pasted (or handed over in the link's ``#token=`` fragment, which
never reaches a server), to the API for the ticket rendered here. Everything a record or
a person wrote is escaped; the shell allows only its own script (CSP).

On-call acts on the ticket there too (acknowledge within 15 minutes, from a phone): the
page offers the moves the ticket's state allows and posts them to the same API, with the
same token; the server still judges each (the owner's, the outcome's rules) and the page
shows its answer.
"""

from __future__ import annotations

from html import escape
from typing import Any
from urllib.parse import quote

from alerts.notify.messages import (
    DUE_WORDS,
    action_for,
    clock_facts,
    figures,
    judged_hours,
    local,
    next_due,
)
from alerts.outcomes import Cause, Outcome, said
from alerts.tickets.lifecycle import MOVES, Action, TicketState
from alerts.tickets.text import MAX_COMMENT

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

# a page's shell: what to load (``src``, the page's own query string added), and what
# to call it when it cannot be shown; a ticket's page also names its ticket (its moves)
SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<link rel="stylesheet" href="/tickets/page.css">
</head><body>
<main id="ticket" data-src="{src}" data-title="{label}"{ticket}><p>Loading...</p></main>
<form id="login" hidden>
  <p>This page needs your Yujing API token (kept in this browser only).</p>
  <input id="token" type="password" autocomplete="off" aria-label="API token">
  <button type="submit">Open</button>
</form>
<script src="/tickets/page.js"></script>
</body></html>
"""

SCRIPT = """"use strict";
(function () {
  const KEY = "yujing-api-token";
  const main = document.getElementById("ticket");
  const form = document.getElementById("login");
  const handed = new URLSearchParams(location.hash.slice(1)).get("token");
  if (handed) {
    localStorage.setItem(KEY, handed);
    history.replaceState(null, "", location.pathname + location.search);
  }
  async function refusal(answer) {  // the server's words: a sentence, a 422's first error
    const detail = await answer.json().then((b) => b.detail, () => null);
    if (typeof detail === "string") return detail;
    return Array.isArray(detail) && detail.length ? String(detail[0].msg) : "";
  }
  let retry = null, pause = 2;  // one pending retry; its pause doubles up to a minute
  function again(seconds) {
    clearTimeout(retry);
    retry = setTimeout(load, seconds * 1000);
  }
  async function load() {
    clearTimeout(retry);
    const token = localStorage.getItem(KEY);
    const headers = token ? { Authorization: "Bearer " + token } : {};
    let answer;
    try {
      answer = await fetch(main.dataset.src + location.search, { headers });
    } catch (error) {  // a phone between cells: said and tried again, not "Loading..."
      main.textContent = main.dataset.title + ": the server could not be reached; " +
        "trying again in " + pause + " s, or when the connection is back.";
      again(pause);
      pause = Math.min(pause * 2, 60);
      return;
    }
    pause = 2;
    if (answer.status === 401) {
      if (token) localStorage.removeItem(KEY);
      main.textContent = token ? "That token was refused." : "";
      form.hidden = false;
      return;
    }
    if (!answer.ok) {  // the server's reason, and a wait it asks for is waited
      const said = await refusal(answer);
      const wait = Number(answer.headers.get("Retry-After"));
      main.textContent = main.dataset.title + ": " +
        (said ? said + " " : "") + "(HTTP " + answer.status + ")" +
        (answer.status === 503 && wait > 0 ? "; trying again in " + wait + " s" : "");
      if (answer.status === 503 && wait > 0) again(wait);
      return;
    }
    main.innerHTML = await answer.text();  // rendered and escaped by the server
  }
  async function act(event) {  // a move from the page's form: the same API, the same token
    if (event.target.id !== "act") return;
    event.preventDefault();
    const fields = event.target.elements;
    const action = event.submitter ? event.submitter.value : "comment";
    const body = { comment: fields.comment.value };
    if (action === "resolve") {
      if (fields.outcome.value) body.outcome = fields.outcome.value;
      if (fields.cause.value) body.cause = fields.cause.value;
    }
    const status = document.getElementById("said");
    status.textContent = "Sending " + action + "...";
    const token = localStorage.getItem(KEY) || "";
    let answer;
    try {
      answer = await fetch(
        "/api/v1/tickets/" + encodeURIComponent(main.dataset.ticket) + "/" +
          encodeURIComponent(action),
        {
          method: "POST",
          headers: { Authorization: "Bearer " + token, "Content-Type": "application/json" },
          body: JSON.stringify(body),
        },
      );
    } catch (error) {  // a phone between cells: said, never "Sending..." for ever
      status.textContent = "Not done: the server could not be reached; " +
        "check the connection and try again (a move that did reach it is refused twice " +
        "and shows on the page when it loads again).";
      return;
    }
    if (answer.ok) {
      await load();
      const done = document.getElementById("said");
      if (done) done.textContent = "Done: " + action + ".";
      return;
    }
    const said = await refusal(answer);
    status.textContent = "Not done: " + (said ? said + " " : "") +
      "(HTTP " + answer.status + ")";
    if (answer.status === 401) {  // none, or a stale one: ask for it
      localStorage.removeItem(KEY);
      status.textContent = "Not done: this needs your API token (enter it below).";
      form.hidden = false;
    }
  }
  main.addEventListener("submit", act);
  addEventListener("online", load);
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    localStorage.setItem(KEY, document.getElementById("token").value.trim());
    form.hidden = true;
    load();
  });
  load();
})();
"""

# when, who and what stay on one line each ("on-call" broke at its hyphen); on a
# phone (on-call at 3 a.m.) the facts stack under their names and each audit entry reads
# as a line of when, who and what above its note: the table ran off a 390-pixel screen
STYLE = """body{font:15px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:52rem;
padding:0 1rem}
h1{font-size:1.3rem}dl{display:grid;grid-template-columns:9rem 1fr;gap:.25rem 1rem}
dt{color:#555}dd{margin:0}.sev-critical,.sev-major{color:#b00020;font-weight:600}
table{border-collapse:collapse;width:100%}td,th{border-bottom:1px solid #ddd;padding:.3rem;
text-align:left;vertical-align:top}a{color:#0b57d0}
td:nth-child(-n+3),.list td:nth-child(5){white-space:nowrap}td:nth-child(4){width:100%}
dd,td{overflow-wrap:anywhere}
@media (max-width:40rem){dl{grid-template-columns:1fr;gap:0}dt{margin-top:.5rem}
table,tbody,tr,td{display:block}tr:first-child{display:none}tr{border-bottom:1px solid #ddd;
padding:.35rem 0}td{border:0;padding:0 .5rem 0 0}td:nth-child(-n+3){display:inline-block}
td:nth-child(4){margin-top:.15rem}}
#act textarea{width:100%;box-sizing:border-box;font:inherit}#act select,#act button{
font:inherit;margin:.3rem .4rem .3rem 0;padding:.35rem .7rem}#said{color:#b00020}
"""


def shell(ticket_id: int) -> str:
    """One ticket's page: what a message's "Ticket" link opens."""
    n = int(ticket_id)
    return SHELL.format(
        title=f"Yujing ticket #{n}",
        label=f"Ticket {n}",
        src=f"/api/v1/tickets/{n}/page",
        ticket=f' data-ticket="{n}"',
    )


def list_shell() -> str:
    """The tickets' page: the NOC's queue, each ticket a link to its own page."""
    return SHELL.format(title="Yujing tickets", label="Tickets", src=LIST_SRC, ticket="")


LIST_SRC = "/api/v1/pages/tickets"
# the list's filters: the tickets people work, every one, or one state
LIST_FILTERS = ("active", "all", *(state.value for state in TicketState))


def list_fragment(
    tickets: list[dict[str, Any]], total: int, shown: str, zone: str, region: str | None = None
) -> str:
    """Tickets newest first, as rows of the same shape as the audit's (so a phone reads
    each as lines): number, state and owner, severity; where and what; the next SLA
    clock. ``tickets``: each ticket's JSON; ``shown`` and ``region``: the filters in
    force (the state's links keep the region)."""
    e = escape
    of_region = "" if region is None else f"&region={quote(region, safe='')}"
    links = " · ".join(
        f"<strong>{e(name)}</strong>"
        if name == shown
        else f'<a href="?state={e(name)}{e(of_region)}">{e(name)}</a>'
        for name in LIST_FILTERS
    )
    if region is not None:
        links += f' · <a href="?state={e(shown)}">every region</a>'
    rows = []
    for t in tickets:
        n = int(t["ticket_id"])
        state = t["state"] + (f", {t['owner']}" if t.get("owner") else "")
        due = next_due(t, brief=True).removeprefix("; ")  # the zone is in the column's head
        rows.append(
            f'<tr><td><a href="/tickets/{n}">#{n}</a></td><td>{e(state)}</td>'
            f'<td class="sev-{e(t["severity"])}">{e(t["severity"])}</td>'
            f"<td>{e(t['region'])} · {e(t['metric'])} ({e(t['detector'])}) · "
            f"{e(t['department'])}</td><td>{e(due)}</td></tr>"
        )
    more = f"<p>The newest {len(tickets)} of {total:,}.</p>" if total > len(tickets) else ""
    table = (
        '<table class="list"><tr><th>#</th><th>State</th><th>Severity</th>'
        f"<th>Where and what</th><th>Next due ({e(zone)})</th></tr>{''.join(rows)}</table>"
        if rows
        else "<p>None.</p>"
    )
    where = "" if region is None else f" in {e(region)}"
    return f"<h1>Tickets ({e(shown)}){where}</h1><p>{links}</p>{table}{more}"


# the clocks as messages and the command line name them: the 72-hour one stops at the
# resolution ("Closed loop by", beside a "Close the loop" button, read as that button's)
CLOCK_LABELS = {clock: f"{words.capitalize()} by" for clock, words in DUE_WORDS.items()}


# what a person may do on the page, in the order they come to it (the state hides the
# rest; the server judges what remains)
ACTION_LABELS = {
    Action.ACKNOWLEDGE: "Acknowledge (you own it)",
    Action.START: "Start work",
    Action.RESOLVE: "Resolve",
    Action.CLOSE: "Close the loop",
    Action.REOPEN: "Reopen",
    Action.COMMENT: "Comment",
}


def act_form(state: str) -> str:
    """The moves ``state`` allows, as one form: a comment, and for a resolution what the
    ticket turned out to be (a confirmed fault's cause)."""
    e = escape
    allowed = [a for a in ACTION_LABELS if TicketState(state) in MOVES[a][0]]
    if not allowed:
        return ""
    buttons = "".join(
        f'<button type="submit" name="action" value="{a.value}">{e(ACTION_LABELS[a])}</button>'
        for a in allowed
    )
    resolve = ""
    if Action.RESOLVE in allowed:
        outcomes = "".join(f'<option value="{o.value}">{e(o.value)}</option>' for o in Outcome)
        causes = "".join(f'<option value="{c.value}">{e(c.value)}</option>' for c in Cause)
        resolve = (
            '<p><select name="outcome" aria-label="Outcome (to resolve)">'
            f'<option value="">outcome (to resolve)</option>{outcomes}</select>'
            '<select name="cause" aria-label="Cause (of a confirmed fault)">'
            f'<option value="">cause (of a confirmed fault)</option>{causes}</select></p>'
        )
    return (
        '<h2>Act</h2><form id="act">'
        f'<textarea name="comment" rows="3" maxlength="{MAX_COMMENT}" '
        'aria-label="Comment" placeholder="What was done or found"></textarea>'
        f'{resolve}<p>{buttons}</p><p id="said" role="status"></p></form>'
    )


def fragment(p: dict[str, Any], events: list[dict[str, Any]], may_act: bool = True) -> str:
    """The ticket's facts and audit trail as HTML; ``p`` is the ticket's JSON with the
    operator's ``timezone`` and the ``grafana_url`` (what a message's payload carries);
    with the moves its state allows when ``may_act`` (a viewer's token only reads)."""
    e = escape
    rows = [
        ("State", f"{p['state']}" + (f", owned by {p['owner']}" if p.get("owner") else "")),
        ("Severity", p["severity"]),
        ("Department", p["department"]),
        ("Metric", f"{p['metric']} ({p['detector']})"),
        ("Observed", figures(p)),
        *([("Inspect first", "; ".join(p["sites"]))] if p.get("sites") else []),
        *([("Outcome", said(p["outcome"], p.get("cause")))] if p.get("outcome") else []),
        ("Why", p["explanation"]),
        # what to do: the message said it, the page it links to did not
        ("Action", action_for(p)),
        ("First fired", local(p, "first_hour")),
        ("Last fired", local(p, "last_fired_hour")),
    ]
    judged = judged_hours(p)
    if judged > 1:
        rows.append(("Judged from", f"{local(p, 'window_start')} ({judged} h)"))
    rows += [(CLOCK_LABELS[clock], shown) for clock, shown in clock_facts(p, events).items()]
    facts = "".join(f"<dt>{e(k)}</dt><dd>{e(str(v))}</dd>" for k, v in rows)
    zone = p.get("timezone") or "+00:00"
    audit = "".join(
        f"<tr><td>{e(local({'timezone': zone, 'at_ms': ev['at']}, 'at'))}</td>"
        f"<td>{e(str(ev['actor']))}</td><td>{e(str(ev['action']))}</td>"
        f"<td>{e(str(ev.get('comment') or ''))}</td></tr>"
        for ev in events
    )
    return (
        f"<h1>#{int(p['ticket_id'])} {e(p['title'])}</h1>"
        f'<p class="sev-{e(p["severity"])}">{e(p["severity"].upper())} · {e(p["region"])}</p>'
        f"<dl>{facts}</dl>"
        f'<p><a href="{e(p["grafana_url"])}">Region in Grafana</a></p>'
        f"{act_form(p['state']) if may_act else ''}"
        "<h2>Audit</h2><table><tr><th>When</th><th>Who</th><th>What</th><th>Note</th></tr>"
        f"{audit}</table>"
    )
