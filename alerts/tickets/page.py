"""The ticket as a page a person opens from a message: the link on-call clicks at 3 a.m.

The JSON API wants a bearer token a browser does not send, so a link to it answered 401.
The page is a shell (no ticket data, no token) whose script sends the reader's token,
kept in the browser once pasted (or handed over in the link's ``#token=`` fragment, which
never reaches a server), to the API for the ticket rendered here. Everything a record or
a person wrote is escaped; the shell allows only its own script (CSP).
"""

from __future__ import annotations

from html import escape
from typing import Any

from alerts.notify.messages import action_for, clock_facts, figures, judged_hours, local
from alerts.outcomes import said

SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}

SHELL = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Yujing ticket #{id}</title>
<link rel="stylesheet" href="/tickets/page.css">
</head><body>
<main id="ticket" data-ticket="{id}"><p>Loading ticket #{id}...</p></main>
<form id="login" hidden>
  <p>This ticket needs your Yujing API token (kept in this browser only).</p>
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
  async function load() {
    const token = localStorage.getItem(KEY);
    const headers = token ? { Authorization: "Bearer " + token } : {};
    const id = encodeURIComponent(main.dataset.ticket);
    const answer = await fetch("/api/v1/tickets/" + id + "/page", { headers });
    if (answer.status === 401) {
      if (token) localStorage.removeItem(KEY);
      main.textContent = token ? "That token was refused." : "";
      form.hidden = false;
      return;
    }
    if (!answer.ok) {  // the server's reason, and a wait it asks for is waited
      const said = await answer.json().then((b) => b.detail, () => null);
      const wait = Number(answer.headers.get("Retry-After"));
      main.textContent = "Ticket " + main.dataset.ticket + ": " +
        (typeof said === "string" ? said + " " : "") + "(HTTP " + answer.status + ")" +
        (answer.status === 503 && wait > 0 ? "; trying again in " + wait + " s" : "");
      if (answer.status === 503 && wait > 0) setTimeout(load, wait * 1000);
      return;
    }
    main.innerHTML = await answer.text();  // rendered and escaped by the server
  }
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
td:nth-child(-n+3){white-space:nowrap}dd,td{overflow-wrap:anywhere}
@media (max-width:40rem){dl{grid-template-columns:1fr;gap:0}dt{margin-top:.5rem}
table,tbody,tr,td{display:block}tr:first-child{display:none}tr{border-bottom:1px solid #ddd;
padding:.35rem 0}td{border:0;padding:0 .5rem 0 0}td:nth-child(-n+3){display:inline-block}
td:nth-child(4){margin-top:.15rem}}
"""


def shell(ticket_id: int) -> str:
    return SHELL.format(id=int(ticket_id))


CLOCK_LABELS = {
    "acknowledge": "Acknowledge by",
    "feedback": "First feedback by",
    "resolve": "Closed loop by",
}


def fragment(p: dict[str, Any], events: list[dict[str, Any]]) -> str:
    """The ticket's facts and audit trail as HTML; ``p`` is the ticket's JSON with the
    operator's ``timezone`` and the ``grafana_url`` (what a message's payload carries)."""
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
        "<h2>Audit</h2><table><tr><th>When</th><th>Who</th><th>What</th><th>Note</th></tr>"
        f"{audit}</table>"
    )
