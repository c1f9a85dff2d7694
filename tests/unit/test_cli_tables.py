"""The demo's report read in an 80-column terminal (an ssh session, a CI log): region
names, metrics and ticket numbers whole, no line wider than the terminal."""

from types import SimpleNamespace

from rich.console import Console

from monitor.cli import replay
from monitor.config.load import load_config
from monitor.lab.scorecard import IncidentScore, Scorecard
from tests.domain import T0


def test_the_demo_report_fits_80_columns(monkeypatch, tmp_path):
    from alerts.policy.notifiers import MemoryNotifier
    from alerts.policy.service import AlertService
    from alerts.policy.settings import AlertSettings
    from alerts.tickets.store import TicketStore
    from tests.domain import finding, tick

    store = TicketStore(f"sqlite:///{tmp_path / 't.db'}")
    svc = AlertService(store=store, notifier=MemoryNotifier(), settings=AlertSettings())
    metric = "complaints.install_repair_timeout"
    region = "guangzhou-tianhe-0042"
    svc.handle(tick(T0, finding(T0, region=region, metric=metric)), now=T0)
    # a site fault: its figures are the complaints', level while the site's KPI is not
    svc.sites = lambda region, metric, spec, hour: (
        "r9-s1 (mean packet_loss 1.35 %, the region's sites' median 0.7 %)",
        "r9-s2 (mean packet_loss 1.1 %, the region's sites' median 0.7 %)",
    )
    level = finding(T0, region="r9", detector="site_fault", observed=100.0)
    svc.handle(tick(T0, level), now=T0)
    console = Console(width=80, record=True, file=open(tmp_path / "out.txt", "w"))  # noqa: SIM115
    monkeypatch.setattr(replay, "out", console)
    # the demo's own totals: at 80 columns they once broke "dead letters" in two
    from monitor.pipeline import PipelineStats

    stats = PipelineStats(
        events_in=710_442, accepted=710_442, duplicates=0, ticks=840, findings=1003,
        corrections=0,
    )  # fmt: skip
    run = SimpleNamespace(
        pipeline=SimpleNamespace(stats=stats, config=load_config()), tickets=store, seconds=50.5
    )
    incident = IncidentScore(
        id="inc-01-install_repair_backlog",
        kind="install_repair_backlog",
        region=region,
        metric=metric,
        caught=True,
        delay_hours=82.0,
        ticket_id=1,
        ticket_ids=[1],
        lead_hours=72.0,
    )
    card = Scorecard(incidents=[incident], false_alarms=[], tickets=1)
    replay._print_report(run, card)  # type: ignore[arg-type]
    said = console.export_text()
    assert max(len(line) for line in said.splitlines()) <= 80
    for whole in (region, metric, "inc-01-install_repair_backlog", "caught by #1"):
        assert whole in said, whole
    assert "130 (normal ~100, +30%)" in said
    assert "    site fault precursor; complaints.broadband_lag at 100 (normal ~100" in said
    assert "dead letters: none; hours judged 840, findings 1,003, corrections 0" in said
    assert "e.g." not in said  # no dead letter, nothing to explain
    assert "82 h after its onset, 72 h before its peak" in said
    assert "    inspect r9-s1 (mean packet_loss 1.35 %, the region's sites' median 0.7 %);" in said
    # the second site wraps under the first, not into column 0 (the capacity ticket's
    # "73.1 %" broke as "73.1" / "%")
    lines = said.splitlines()
    at = next(i for i, line in enumerate(lines) if line.startswith("    inspect r9-s1"))
    assert lines[at + 1].startswith(" " * 12 + "r9-s2 (mean packet_loss 1.1 %"), lines[at : at + 2]
    store.close()


def test_a_ticket_shown_in_80_columns_keeps_each_value_under_its_field():
    """`tickets show` printed an explanation of three lines with the second and third in
    column 0, under the field names, where the terminal wrapped it."""
    from monitor.cli.common import hanging

    why = "  why       site fault precursor: " + "kpi.packet_loss.mean 0.236 -> 1.69 " * 6
    audit = "    2026-10-22 02:00+08:00  yujing opened: " + "complaints rose, " * 8 + "\nfake"
    for line, hang in ((why, 12), (audit, 6)):
        shown = hanging(line, 80, hang).splitlines()
        assert len(shown) > 1 and max(len(x) for x in shown) <= 80
        assert all(x.startswith(" " * hang) and x[hang] != " " for x in shown[1:]), shown
        assert " ".join(shown).split() == line.split()  # every word, in order
    assert hanging("#1 Inspect r1: complaints.total (burst)", 80, 2) == (
        "#1 Inspect r1: complaints.total (burst)"
    )
    # a number keeps its unit: the demo's capacity ticket ended "72.3" / "%" (as it read then)
    site = "    inspect region-027-s2 (bandwidth_utilisation 95.0 %, the region's sites 72.3 %)"
    assert hanging(site, 80, 12).splitlines()[1] == " " * 12 + "72.3 %)"
    # a comment in Chinese takes two cells a character: counted so, it stays in 80
    from rich.cells import cell_len

    comment = "    2026-10-22 09:00+08:00  li.wei comment: " + "基站已修复，明天复查。" * 12
    shown = hanging(comment, 80, 6).splitlines()
    assert len(shown) > 2 and max(cell_len(x) for x in shown) <= 80
    assert "".join("".join(shown).split()) == "".join(comment.split())  # all, in order


def test_a_ticket_shown_says_what_to_do_and_links_its_runbook(tmp_path, monkeypatch):
    """The message said what to do and linked the spec's runbook; `tickets show` and the
    ticket page, where on-call works the ticket, said neither."""
    from typer.testing import CliRunner

    from alerts.policy.notifiers import MemoryNotifier
    from alerts.policy.service import AlertService
    from alerts.policy.settings import AlertSettings
    from alerts.tickets.store import TicketStore
    from monitor.cli.main import app
    from tests.domain import finding, tick

    url = f"sqlite:///{tmp_path / 't.db'}"
    store = TicketStore(url)
    svc = AlertService(store=store, notifier=MemoryNotifier(), settings=AlertSettings())
    svc.handle(tick(T0, finding(T0, detector="peak_congestion")), now=T0)
    store.close()
    config = tmp_path / "c.yaml"
    config.write_text(
        "detectors:\n"
        "  - {id: spec, detector: peak_congestion, metrics: [complaints.broadband_lag],\n"
        "     runbook: 'https://wiki.example/noc/evening-capacity'}\n"
    )
    monkeypatch.setenv("YUJING_CONFIG", str(config))
    monkeypatch.setenv("COLUMNS", "100")
    shown = CliRunner().invoke(app, ["tickets", "show", "1", "--db", url])
    assert shown.exit_code == 0, shown.output
    assert "  action    Plan capacity for the region's evening peak" in shown.output
    assert "  runbook   https://wiki.example/noc/evening-capacity" in shown.output


def test_text_stored_with_escape_sequences_is_shown_not_obeyed(tmp_path):
    """A comment an older version took with ESC in it (or one written to the database by
    hand) reached on-call's terminal raw from `tickets show`, and an owner's name from
    `tickets list`: each control character is now shown as an escape."""
    from sqlalchemy import create_engine, text
    from typer.testing import CliRunner

    from alerts.policy.notifiers import MemoryNotifier
    from alerts.policy.service import AlertService
    from alerts.policy.settings import AlertSettings
    from alerts.tickets.store import TicketStore
    from monitor.cli.main import app
    from tests.domain import finding, tick

    url = f"sqlite:///{tmp_path / 't.db'}"
    store = TicketStore(url)
    svc = AlertService(store=store, notifier=MemoryNotifier(), settings=AlertSettings())
    svc.handle(tick(T0, finding(T0)), now=T0)
    store.transition(1, "acknowledge", "li.wei", "", T0 + 60_000)
    store.transition(1, "comment", "li.wei", "inspection booked", T0 + 120_000)
    store.close()
    engine = create_engine(url)
    with engine.begin() as db:
        db.execute(text("UPDATE ticket_events SET comment = :c WHERE action = 'comment'"),
                   {"c": "booked \x1b[2J\x1b]0;pwned\x07\x9b1m"})  # fmt: skip
        db.execute(text("UPDATE tickets SET owner = :o"), {"o": "li\x1b[8mwei"})
    engine.dispose()
    runner = CliRunner()
    shown = runner.invoke(app, ["tickets", "show", "1", "--db", url])
    listed = runner.invoke(app, ["tickets", "list", "--db", url])
    for done in (shown, listed):
        assert done.exit_code == 0, done.output
        assert "\x1b" not in done.output and "\x07" not in done.output
        assert "\x9b" not in done.output
    assert "booked \\x1b[2J\\x1b]0;pwned\\x07\\x9b1m" in shown.output
    assert "owner li\\x1b[8mwei" in listed.output


def test_a_site_fault_ticket_shows_its_kpi_first_in_its_unit(tmp_path, monkeypatch):
    """`tickets show` of a site fault precursor read "complaints.weak_signal at 7 (normal
    ~7, +0%)": the packet loss that fired it was in the explanation's prose only, and a
    KPI's figures came without their unit. The ticket keeps the KPI's figures; a later
    finding's replace them, and the first one's go with the figures they explained."""
    from typer.testing import CliRunner

    from alerts.policy.notifiers import MemoryNotifier
    from alerts.policy.service import AlertService
    from alerts.policy.settings import AlertSettings
    from alerts.tickets.store import TicketStore
    from detectors.base import Signal
    from monitor.cli.main import app
    from tests.domain import HOUR, finding, tick

    url = f"sqlite:///{tmp_path / 't.db'}"
    store = TicketStore(url)
    svc = AlertService(store=store, notifier=MemoryNotifier(), settings=AlertSettings())
    metric = "complaints.weak_signal"
    for k, loss in enumerate((0.9, 1.69)):
        hour = T0 + k * HOUR
        fault = finding(hour, metric=metric, detector="site_fault", observed=7.0, span=24,
                        signal=Signal("kpi.packet_loss.mean", loss, 0.236))  # fmt: skip
        svc.handle(tick(hour, fault), now=hour + HOUR)
    # four hours on, the KPI's own finding joins the region's ticket: it moves the last
    # fired hour, not the figures, nor the hours they judged (it said "judged 28 h")
    later = T0 + 5 * HOUR
    kpi = finding(later, metric="kpi.packet_loss.mean", detector="burst", observed=2.0, span=1)
    svc.handle(tick(later, kpi), now=later + HOUR)
    (ticket,) = store.all()
    assert (ticket.observed_hour, ticket.last_fired_hour) == (T0 + HOUR, later)
    assert ticket.signal == {
        "metric": "kpi.packet_loss.mean", "observed": 1.69, "baseline": 0.236, "limit": None
    }  # fmt: skip
    store.close()
    monkeypatch.setenv("COLUMNS", "80")
    shown = CliRunner().invoke(app, ["tickets", "show", "1", "--db", url])
    assert shown.exit_code == 0, shown.output
    said = " ".join(shown.output.split())  # the line hangs under its value at 80 columns
    assert (
        "observed site fault precursor: kpi.packet_loss.mean 1.69 % (normal ~0.236 %); "
        "complaints.weak_signal at 7 (normal ~100, -93%)"
    ) in said, shown.output
    # 24 hours, ending with the figures' hour (T0 + 1 h is 17:00 in +08:00)
    assert "judged 2027-01-14 18:00+08:00 .. 2027-01-15 17:00+08:00" in said
    from alerts.notify.messages import build_payload, text
    from alerts.notify.settings import Links

    message = text(build_payload(ticket.to_json(), "refired", "yujing", "", later, Links()))
    assert "Judged 24 h: " in message and "Judged 28 h" not in message
    # the early trend's finding on the same series takes over the figures: a week's sums,
    # told as its own, not as a site fault precursor's
    store = TicketStore(url)
    svc = AlertService(store=store, notifier=MemoryNotifier(), settings=AlertSettings())
    trend_hour = later + HOUR
    trend = finding(trend_hour, metric=metric, detector="early_trend", observed=921.0)
    svc.handle(tick(trend_hour, trend), now=trend_hour + HOUR)
    (ticket,) = store.all()
    store.close()
    assert (ticket.detector, ticket.observed_by, ticket.signal) == (
        "site_fault",
        "early_trend",
        None,
    )
    message = text(build_payload(ticket.to_json(), "refired", "yujing", "", trend_hour, Links()))
    assert "Observed: 921 (normal ~100, +821%)" in message, message
    assert "(site fault precursor)" in message.splitlines()[0]  # what the ticket is about
