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
from tests.domain import ALICE, AUTH, T0, VIEWER, database_away, finding

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
    # the 72-hour clock stops at the resolution, and is named so (it read "Closed loop by"
    # beside a "Close the loop" button)
    assert "<dt>Resolve by</dt>" in dom and "Closed loop by" not in dom
    assert "owned by alice" in dom and "acknowledge" in dom
    # the comment is shown as text, not run as markup
    assert "&lt;img src=x" in dom and "<img" not in dom
    assert '<form id="login" hidden=""' in dom


def test_a_viewers_page_offers_no_moves(served, tmp_path):
    """A viewer's token reads tickets: buttons it could only be refused by are not shown."""
    operator = chromium(f"{served}#token={ALICE}", tmp_path / "operator")
    viewer = chromium(f"{served}#token={VIEWER}", tmp_path / "viewer")
    assert '<form id="act">' in operator and 'value="start"' in operator
    assert "Inspect r1" in viewer and '<form id="act">' not in viewer


def test_the_tickets_page_lists_the_queue_and_links_each_ticket(sqlite_url, tmp_path):
    """The server's address answered 404 and no page listed the tickets: the NOC's queue
    was `yujing tickets list` in a terminal."""
    store = TicketStore(sqlite_url)
    working, _ = store.open("k1", "fp1", finding(T0, region="north-01"), T0)
    done, _ = store.open("k2", "fp2", finding(T0, region="south-02"), T0)
    store.transition(done.id, "acknowledge", "alice", "", T0 + 60_000)
    store.transition(done.id, "resolve", "alice", "", T0 + 120_000, "false_alarm")
    server = start_api(store, AUTH, "127.0.0.1", port := free_port(), timezone="+08:00")
    base = f"http://127.0.0.1:{port}"
    try:
        active = chromium(f"{base}/#token={ALICE}", tmp_path / "profile")  # "/" leads here
        every = chromium(f"{base}/tickets?state=all#token={ALICE}", tmp_path / "profile")
        wrong = chromium(f"{base}/tickets?state=bogus#token={ALICE}", tmp_path / "profile")
        # what the region dashboard's "Open tickets in the region" links to
        south = chromium(f"{base}/tickets?state=all&region=south-02#token={ALICE}", tmp_path / "p")
    finally:
        server.stop()
        store.close()
    assert "<h1>Tickets (active)</h1>" in active
    assert f'<a href="/tickets/{working.id}">#{working.id}</a>' in active
    assert "north-01" in active and "south-02" not in active  # resolved: not in the queue
    assert "acknowledge by 01-15 16:15" in active  # its next clock, in the operator's zone
    assert "north-01" in every and "south-02" in every and "resolved, alice" in every
    assert "Tickets: String should match pattern" in wrong and "(HTTP 422)" in wrong
    assert "<h1>Tickets (all) in south-02</h1>" in south
    assert "south-02" in south.split("</h1>")[1] and "north-01" not in south
    # the other filters keep the region; one link drops it
    assert '<a href="?state=active&amp;region=south-02">active</a>' in south
    assert '<a href="?state=all">every region</a>' in south


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


class Page:
    """Chromium driven over its DevTools protocol (aiohttp's websocket client): what a
    person does on the page (types, picks, taps), not only what it shows once loaded."""

    def __init__(self, ws: object) -> None:
        self.ws = ws
        self.sent = 0

    async def call(self, method: str, **params: object) -> dict:
        self.sent += 1
        await self.ws.send_json({"id": self.sent, "method": method, "params": params})  # type: ignore[attr-defined]
        while True:  # events arrive between the answers: skipped
            message = await self.ws.receive_json(timeout=30)  # type: ignore[attr-defined]
            if message.get("id") == self.sent:
                assert "error" not in message, message
                return message["result"]

    async def value(self, expression: str) -> object:
        done = await self.call(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        assert "exceptionDetails" not in done, done
        return done["result"].get("value")

    async def until(self, expression: str, deadline_s: float = 30) -> object:
        """Wait (with a deadline) until ``expression`` is truthy on the page."""
        import asyncio
        import time

        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            got = await self.value(expression)
            if got:
                return got
            await asyncio.sleep(0.05)  # a poll's pace, not a wait for something
        shown = await self.value("document.body ? document.body.innerText : ''")
        raise AssertionError(f"never true within {deadline_s} s: {expression}; page: {shown}")


async def on_page(url: str, profile: Path, width: int, steps) -> None:
    """Open ``url`` in a Chromium ``width`` pixels wide and run ``steps(page)``."""
    import asyncio
    import time

    import aiohttp

    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        missing("browser", "Chromium is not installed (Debian's chromium package)")
    port = free_port()
    browser = subprocess.Popen(
        [
            str(binary), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync",
            f"--user-data-dir={profile}", f"--remote-debugging-port={port}",
            f"--window-size={width},900", "about:blank",
        ],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        async with aiohttp.ClientSession() as http:
            end, target = time.monotonic() + 60, None
            while target is None:
                assert time.monotonic() < end, "Chromium's DevTools never answered"
                try:
                    async with http.get(f"http://127.0.0.1:{port}/json/list") as answer:
                        pages = [t for t in await answer.json() if t.get("type") == "page"]
                        target = pages[0] if pages else None
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)  # the browser is starting: poll its port
            async with http.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as ws:
                page = Page(ws)
                await page.call("Page.navigate", url=url)
                await steps(page)
    finally:
        browser.terminate()
        browser.wait(timeout=60)


def test_a_page_that_cannot_reach_the_server_says_so_and_tries_again(served, tmp_path):
    """Opened between cells, the page said "Loading..." for ever: its first fetch failed
    and nothing tried it again."""
    import asyncio

    async def steps(page: Page) -> None:
        await page.call("Network.enable")
        await page.call("Network.setBlockedURLs", urls=["*/api/v1/tickets/*"])
        await page.call("Page.navigate", url=f"{served}#token={ALICE}")
        shown = "document.getElementById('ticket')?.textContent"
        await page.until(f"{shown}?.includes('the server could not be reached; trying again')")
        await page.call("Network.setBlockedURLs", urls=[])  # the connection is back
        await page.until(f"{shown}?.includes('Inspect r1')")

    asyncio.run(on_page("about:blank", tmp_path / "profile", 390, steps))


def test_on_call_acts_on_the_ticket_from_a_phone(sqlite_url, tmp_path):
    """The message's link opened a page to read, and on-call had to find a terminal to
    acknowledge within 15 minutes: the page now offers the moves the state allows, the
    server judges them, and the page says what it answered."""
    import asyncio

    store = TicketStore(sqlite_url)
    ticket, _ = store.open("k1", "fp1", finding(T0), T0)
    server = start_api(store, AUTH, "127.0.0.1", port := free_port(), timezone="+08:00")
    url = f"http://127.0.0.1:{port}/tickets/{ticket.id}#token={ALICE}"
    said = "document.getElementById('said')?.textContent"

    async def steps(page: Page) -> None:
        await page.until("!!document.querySelector('#act button[value=acknowledge]')")
        # a phone's width: nothing runs off the screen
        assert await page.value("document.documentElement.scrollWidth <= innerWidth")
        assert await page.value("[...document.querySelectorAll('#act button')]"
                                ".map(b => b.value).join()") == "acknowledge,comment"  # fmt: skip
        # between cells: the page says it did not get through, not "Sending..." for ever
        offline = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
        await page.call("Network.enable")
        await page.call("Network.emulateNetworkConditions", offline=True, **offline)
        await page.value("document.querySelector('#act button[value=acknowledge]').click()")
        await page.until(f"{said}?.startsWith('Not done: the server could not be reached')")
        await page.call("Network.emulateNetworkConditions", offline=False, **offline)
        await page.value(
            "document.querySelector('#act textarea').value = 'on my way';"
            "document.querySelector('#act button[value=acknowledge]').click()"
        )
        await page.until(f"{said} === 'Done: acknowledge.'")
        assert "owned by alice" in await page.value("document.body.innerText")
        # resolving without saying what it was: the server's reason, on the page
        await page.value("document.querySelector('#act button[value=resolve]').click()")
        await page.until(f"{said}?.startsWith('Not done')")
        assert "(HTTP 409)" in await page.value(said)
        await page.value(
            "document.querySelector('#act select[name=outcome]').value = 'confirmed_fault';"
            "document.querySelector('#act select[name=cause]').value = 'site_hardware';"
            "document.querySelector('#act button[value=resolve]').click()"
        )
        await page.until(f"{said} === 'Done: resolve.'")

    try:
        asyncio.run(on_page(url, tmp_path / "profile", 390, steps))
    finally:
        server.stop()
    after = store.get(ticket.id)
    assert (after.state, after.owner, after.outcome) == ("resolved", "alice", "confirmed_fault")
    trail = [(e["actor"], e["action"], e["comment"]) for e in store.events(ticket.id)]
    assert ("alice", "acknowledge", "on my way") in trail
    store.close()


def test_the_page_gives_a_kpis_figures_their_unit(sqlite_url, tmp_path):
    """The message read "1.21 % (limit 1.0 %)" and the page it links to "1.21 (limit
    1.0)": the page now takes the units the messages do (``units_of``)."""
    from alerts.notify.settings import NotificationSettings

    store = TicketStore(sqlite_url, notifications=NotificationSettings(units={"packet_loss": "%"}))
    ticket, _ = store.open(
        "k1", "fp1",
        finding(T0, metric="kpi.packet_loss.mean", detector="threshold", observed=1.21,
                limit=1.0),
        T0,
    )  # fmt: skip
    server = start_api(store, AUTH, "127.0.0.1", port := free_port(), timezone="+08:00")
    try:
        url = f"http://127.0.0.1:{port}/tickets/{ticket.id}#token={ALICE}"
        dom = chromium(url, tmp_path / "profile")
    finally:
        server.stop()
        store.close()
    assert "<dt>Observed</dt><dd>1.21 % (limit 1.0 %, normal ~100 %)</dd>" in dom, dom[-3000:]
