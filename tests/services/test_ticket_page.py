"""The "Ticket" link of a message, opened in a real browser (headless Chromium): the
ticket's facts and audit trail in the operator's zone, once the reader's token is known;
a form asking for it otherwise (the link used to answer 401); hostile text stays text."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from alerts.tickets.store import TicketStore
from monitor.runners.api_server import start_api
from tests.conftest import free_port, missing
from tests.domain import ALICE, AUTH, T0, database_away, finding

pytestmark = pytest.mark.browser
HOSTILE = '<img src=x onerror="document.title=1">crew on site'


def chromium(url: str, profile: Path) -> str:
    """The page's DOM once its script has run (Chromium's virtual time waits for the
    page's fetches), as Chromium renders it."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        missing("browser", "Chromium is not installed (Debian's chromium package)")
    done = subprocess.run(
        [
            str(binary), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
            "--no-first-run", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", f"--user-data-dir={profile}", "--virtual-time-budget=10000",
            "--dump-dom", url,
        ],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


@pytest.fixture
def served(sqlite_url):
    store = TicketStore(sqlite_url)
    ticket, _ = store.open("k1", "fp1", finding(T0), T0)
    assert not isinstance(store.transition(ticket.id, "acknowledge", "alice", HOSTILE, T0), str)
    port = free_port()
    server = start_api(store, AUTH, "127.0.0.1", port, timezone="+08:00")
    yield f"http://127.0.0.1:{port}/tickets/{ticket.id}"
    server.stop()
    store.close()


def test_the_ticket_link_opens_a_page_with_the_ticket(served, tmp_path):
    dom = chromium(f"{served}#token={ALICE}", tmp_path / "profile")
    assert "Inspect r1: complaints.broadband_lag (wow)" in dom
    assert "130 (normal ~100, +30%)" in dom
    # what to do, as the message that linked here said it
    assert "<dt>Action</dt><dd>Inspect the region's sites" in dom.replace("&#x27;", "'")
    # T0 is 2027-01-15 08:00 UTC: the operator's clock with its offset
    assert "2027-01-15 16:00 +08:00" in dom and "2027-01-15 16:15 +08:00" in dom
    # acknowledged: its 15-minute clock says when it was done, the 24-hour one still runs
    assert "16:15 +08:00 (done 16:00)" in dom and "2027-01-16 16:00 +08:00<" in dom
    assert "owned by alice" in dom and "acknowledge" in dom
    # the comment is shown as text, not run as markup
    assert "&lt;img src=x" in dom and "<img" not in dom
    assert '<form id="login" hidden=""' in dom


def test_without_a_token_the_page_asks_for_one(served, tmp_path):
    dom = chromium(served, tmp_path / "fresh-profile")
    assert "Inspect r1" not in dom
    assert '<form id="login">' in dom  # shown: no longer hidden


def test_a_ticket_that_cannot_be_shown_says_why(served, tmp_path):
    dom = chromium(served.rsplit("/", 1)[0] + f"/999#token={ALICE}", tmp_path / "profile")
    assert "Ticket 999: no ticket 999 (HTTP 404)" in dom


def test_a_database_away_is_said_and_waited_for(tmp_path):
    with database_away(tmp_path) as (store, away):
        ticket, _ = store.open("k1", "fp1", finding(T0), T0)
        server = start_api(store, AUTH, "127.0.0.1", port := free_port())
        url = f"http://127.0.0.1:{port}/tickets/{ticket.id}#token={ALICE}"
        try:
            with away():
                dom = chromium(url, tmp_path / "profile")
        finally:
            server.stop()
    assert (
        f"Ticket {ticket.id}: the ticket database is unavailable; try again shortly "
        "(HTTP 503); trying again in 5 s"
    ) in dom
