"""The embedded pipeline end to end on small simulated data: nothing is lost."""

import orjson
import pytest

from detectors.timeaxis import DAY_MS, HOUR_MS
from monitor.config.load import load_config
from monitor.lab.simulate_events import BAD_LINES, SimConfig, write
from monitor.runners.embedded import build, run_file, run_lines
from tests.helpers import T0, complaint, kpi, region


def test_every_event_is_either_accepted_or_dead_lettered(tmp_path, sqlite_url):
    sim = SimConfig(seed=5, regions=4, weeks=3, dirty=True, incidents=False)
    events, _, n = write(sim, tmp_path)
    run = build(load_config(), sqlite_url, tmp_path)
    run_file(run, events)
    stats = run.pipeline.stats
    assert stats.events_in == n
    assert stats.accepted + sum(stats.dead_lettered.values()) == n
    assert stats.dead_lettered["late"] > 0
    assert len(stats.dead_lettered) >= 4  # several kinds of bad input were exercised
    lines = (tmp_path / "deadletters.jsonl").read_bytes().splitlines()
    assert len(lines) == sum(stats.dead_lettered.values())
    letter = orjson.loads(lines[0])
    assert letter["reason"] and letter["detail"] and letter["raw"] and letter["source"]


def test_bad_lines_do_not_stop_the_stream(tmp_path, sqlite_url):
    run = build(load_config(), sqlite_url)
    good = [complaint(f"2026-10-05T{h:02d}:10:00Z", id_=f"g{h}") for h in range(5)]
    mixed = [region("r1"), *BAD_LINES[:3], *good[:2], *BAD_LINES[3:], *good[2:]]
    run_lines(run, mixed)
    stats = run.pipeline.stats
    assert stats.accepted == 6  # the region record and the five complaints
    assert sum(stats.dead_lettered.values()) == len(BAD_LINES)
    assert stats.aggregates == 5  # hours 00..04 for the one region
    assert stats.ticks == 5


def test_a_late_event_that_completes_an_anomaly_is_judged(tmp_path, sqlite_url):
    from monitor.config.load import parse_config

    config = parse_config("""
windows: {allowed_lateness_minutes: 180, inputs: [complaint]}
detectors:
  - id: spike
    detector: threshold
    metrics: [complaints.billing_dispute]
    params: {threshold: 2, min_consecutive_hours: 1}
""")
    run = build(config, sqlite_url)
    lines = [region("r1")] + [
        complaint(f"2026-10-05T09:{m:02d}:00Z", category="billing_dispute", id_=f"a{m}")
        for m in (1, 2)
    ]
    lines.append(complaint("2026-10-05T10:30:00Z", category="weak_signal", id_="b"))
    # the third dispute of 09:00 arrives after the hour was emitted: a correction
    lines.append(complaint("2026-10-05T09:59:00Z", category="billing_dispute", id_="late"))
    lines.append(complaint("2026-10-05T11:30:00Z", category="weak_signal", id_="c"))
    run_lines(run, lines, finish=False)
    assert run.pipeline.stats.corrections == 1
    (ticket,) = run.tickets.all()
    assert ticket.observed == 3 and ticket.metric == "complaints.billing_dispute"


def spike_config(windows: str = ""):
    """Three billing disputes in an hour open a ticket: a finding a replay must not lose;
    ``windows``: that section of the config, as YAML."""
    from monitor.config.load import parse_config

    return parse_config(
        windows
        + """
detectors:
  - id: spike
    detector: threshold
    metrics: [complaints.billing_dispute]
    params: {threshold: 2, min_consecutive_hours: 1}
""",
        "replay.yaml",
    )


@pytest.mark.parametrize("stopped", ["everything", "its kpis"])
def test_a_region_that_stops_does_not_hold_back_the_others_judging(sqlite_url, stopped):
    """A replay judges an hour once every region has closed it. A region whose export
    stopped (or only its KPIs: its hours wait for both inputs) closed no hour again, so
    every other region's hours waited to the replay's end: the hours to judge grew without
    bound, and a replay longer than the series' history judged them after it was gone
    (r1's billing spike of its second week opened no ticket). The replay now judges up to
    a day behind its newest event whatever a region left behind has closed."""
    run = build(spike_config(), sqlite_url)
    lines = [region("r1"), region("r2")]
    for h in range(24 * 7 * 4):
        at = T0 + h * HOUR_MS + 600_000
        for name in ("r1", "r2"):
            if name == "r2" and h >= 24 and stopped == "everything":
                continue  # r2 stops after the first day
            lines.append(complaint(at, region=name, id_=f"{name}-{h}"))
            if name == "r1" or h < 24:
                lines.append(kpi(at, 0.5, region=name))
        if h == 24 * 7:  # r1's spike, in its second week
            lines += [
                complaint(at + k, region="r1", category="billing_dispute", id_=f"s{k}")
                for k in range(3)
            ]
    waiting = []
    for line in lines:
        run.pipeline.feed(line)
        waiting.append(run.pipeline.hours_to_judge)
    assert max(waiting) <= 26, max(waiting)  # a day and the hours around it, not weeks
    last = run.pipeline.stats.last_judged_hour
    assert last is not None and last >= T0 + (24 * 7 * 4 - 26) * HOUR_MS  # a day behind
    run.pipeline.finish()
    assert run.pipeline.hours_to_judge == 0
    assert [(t.region, t.metric) for t in run.tickets.all()] == [
        ("r1", "complaints.billing_dispute")
    ]


def test_two_exports_replayed_one_after_the_other_are_judged_as_they_close(sqlite_url, monkeypatch):
    """An operator imports the CRM's complaints and the OSS's KPIs and replays the two
    files one after the other. During the KPIs the newest event time stands at the
    complaints' end, so no hour was polled until the replay's end: every hour closed at
    once, after the series' history had moved past the first weeks (r1's billing spike
    of its first week opened no ticket). The windows are now polled every
    ``STILL_EVENTS`` events while the newest time stands still."""
    import monitor.pipeline

    monkeypatch.setattr(monitor.pipeline, "STILL_EVENTS", 200)
    run = build(spike_config(), sqlite_url)
    hours = 24 * 7 * 7  # longer than the series' history (~44 days)
    complaints, kpis = [region("r1"), region("r2")], []
    for h in range(hours):
        at = T0 + h * HOUR_MS + 600_000
        for name in ("r1", "r2"):
            complaints.append(complaint(at, region=name, id_=f"{name}-{h}"))
            kpis.append(kpi(at, 0.5, region=name))
        if h == 24 * 3:
            complaints += [
                complaint(at + k, region="r1", category="billing_dispute", id_=f"s{k}")
                for k in range(3)
            ]
    waiting = []
    for line in complaints + kpis:
        run.pipeline.feed(line)
        waiting.append(run.pipeline.hours_to_judge)
    assert max(waiting) < 24, max(waiting)
    run.pipeline.finish()
    assert [(t.region, t.metric) for t in run.tickets.all()] == [
        ("r1", "complaints.billing_dispute")
    ]


def two_weeks_with_a_spike(*, typo: bool = False, gap_days: int = 0) -> list[bytes]:
    """r1 and r2 hour by hour for two weeks, r1 with three billing disputes on day 9;
    ``typo``: one complaint of r1 typed 40 days ahead on the first day; ``gap_days``: the
    export has that many days missing after the first week."""
    lines = [region("r1"), region("r2")]
    for h in range(24 * 14):
        at = T0 + h * HOUR_MS + 600_000 + (gap_days * DAY_MS if h >= 24 * 7 else 0)
        for name in ("r1", "r2"):
            lines += [complaint(at, region=name, id_=f"{name}-{h}"), kpi(at, 0.5, region=name)]
        if typo and h == 10:
            lines.append(complaint(at + 40 * DAY_MS, region="r1", id_="typo"))
        if h == 24 * 9:
            lines += [
                complaint(at + k, region="r1", category="billing_dispute", id_=f"s{k}")
                for k in range(3)
            ]
    return lines


@pytest.mark.parametrize("inputs", ["[complaint]", "[complaint, kpi]"])
def test_one_event_typed_weeks_ahead_costs_a_replay_nothing_else(sqlite_url, inputs):
    """A replay's events were bounded by the wall clock only. One complaint typed 40 days
    ahead, early in the file: with complaints the only input, r1's watermark moved 40 days
    on and 653 of its later events were dead-lettered as late; with both inputs, it moved
    the series' time axis past the two weeks being judged, and r1's spike opened no
    ticket. A replay now takes events up to a day past its own newest, and holds the rest
    until others vouch for the jump (an export with days missing), or refuses them."""
    run = build(spike_config(f"windows: {{inputs: {inputs}}}"), sqlite_url)
    lines = two_weeks_with_a_spike(typo=True)
    run_lines(run, lines)
    stats = run.pipeline.stats
    assert stats.dead_lettered == {"bad_time": 1}
    [letter] = run.dead_letters.letters
    assert letter.offset == lines.index(next(x for x in lines if b'"typo"' in x)) + 1
    assert letter.detail.startswith(
        "event_time 2026-11-14T10:10:00+00:00 is 26.5 days past this replay's newest event "
        "(2026-10-18T23:10:00+00:00)"
    )
    assert stats.aggregates == 2 * 24 * 14
    assert [(t.region, t.metric) for t in run.tickets.all()] == [
        ("r1", "complaints.billing_dispute")
    ]


def test_an_export_with_days_missing_is_replayed_whole(sqlite_url):
    """The events after a gap are far ahead of the replay's newest, and vouch for each
    other: nothing is refused, and the spike after the gap is judged."""
    run = build(spike_config(), sqlite_url)
    lines = two_weeks_with_a_spike(gap_days=30)
    run_lines(run, lines)
    stats = run.pipeline.stats
    assert not stats.dead_lettered and stats.accepted == len(lines)
    assert [(t.region, t.metric) for t in run.tickets.all()] == [
        ("r1", "complaints.billing_dispute")
    ]
