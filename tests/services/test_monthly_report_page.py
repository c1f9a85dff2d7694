"""The monthly review page opened in a real headless Chromium: no console errors, every
chart drawn with its data, the figures of the month in the page."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest

from alerts.tickets.store import TicketStore
from tests.conftest import missing
from tests.domain import HOUR, MIN, T0, finding

pytestmark = pytest.mark.browser
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)


def chromium(*args: str) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        missing("browser", "Chromium is not installed (Debian's chromium package)")
    return subprocess.run(
        [str(binary), *FLAGS, *args], capture_output=True, text=True, timeout=120, check=False
    )


def test_the_monthly_review_opens_with_every_chart_drawn(tmp_path):
    url = f"sqlite:///{tmp_path / 't.db'}"
    store = TicketStore(url)
    for k, (region, spec, outcome, cause) in enumerate(
        [("north-01", "lag-wow", "confirmed_fault", "capacity"),
         ("north-01", "lag-wow", "false_alarm", None),
         ("south-02", "billing-burst", "confirmed_fault", "billing_run")]
    ):  # fmt: skip
        opened = T0 + k * 24 * HOUR
        sf = replace(finding(opened, region=region), spec_id=spec)
        t, _ = store.open(f"k{k}", f"fp{k}", sf, opened)
        store.transition(t.id, "acknowledge", "li.wei", "", opened + (10 + 5 * k) * MIN)
        store.transition(t.id, "resolve", "li.wei", "", opened + 30 * HOUR, outcome, cause)
    store.record_complaints(
        (region, T0 + h * HOUR, {"broadband_lag": 2 + h % 3, "billing_dispute": h % 2})
        for h in range(0, 20 * 24, 5)
        for region in ("north-01", "south-02")
    )
    store.close()
    page = tmp_path / "review.html"
    made = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "report", "monthly", "--month", "2027-01",
         "--db", url, "--out", str(page), "--regions", "20"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert f"monthly review of 2027-01 (3 tickets): {page}" in " ".join(made.stderr.split())

    opened = chromium(
        f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--log-level=0",
        "--dump-dom", page.as_uri(),
    )  # fmt: skip
    assert opened.returncode == 0, opened.stderr[-2000:]
    assert "CONSOLE" not in opened.stderr, opened.stderr  # no console message at all
    dom = opened.stdout
    charts = re.findall(r'<div class="chart" data-chart="([^"]+)">(.*?)</div>', dom, re.S)
    assert [title for title, _ in charts] == [
        "Compliance per clock (%)", "Tickets per department",
        "Complaints per week and category", "Tickets per detector spec",
    ]  # fmt: skip
    for title, svg in charts:
        assert svg.count('<g id="patch_') >= 3 or svg.count('<g id="line2d_') >= 2, title
    trend = dict(charts)["Complaints per week and category"]
    assert "broadband_lag" in trend and "billing_dispute" in trend  # a line each, named
    drawn = re.findall(r'<path d="(M[^"]*)"\s*clip-path', trend)  # inside the axes
    # the complaints begin on 01-15: three weeks drawn per category; the two before them
    # have none recorded at all and are gaps ("—" in the tables), not falls to zero
    assert sorted(p.count("L ") for p in drawn)[-2:] == [2, 2]
    assert dom.count('<td class="n">—</td>') == 2 * 2 * 2  # 2 weeks x 2 rows x 2 tables
    assert "<h2>Complaint volume</h2>" in dom and "week of " in dom
    spec_chart = dict(charts)["Tickets per detector spec"]
    assert "lag-wow" in spec_chart and "billing-burst" in spec_chart
    assert "66.7%" in dict(charts)["Compliance per clock (%)"]  # one of three acked late
    assert "lag-wow</td><td class=\"n\">2</td><td class=\"n\">1</td><td class=\"n\">1</td>" \
        "<td class=\"n\">50%</td>" in dom  # fmt: skip
    shot = chromium(
        f"--user-data-dir={tmp_path / 'profile2'}", "--window-size=1100,1600",
        f"--screenshot={tmp_path / 'review.png'}", page.as_uri(),
    )  # fmt: skip
    assert shot.returncode == 0 and (tmp_path / "review.png").read_bytes()[:4] == b"\x89PNG"
