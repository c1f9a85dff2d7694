"""Hourly windows in event time: edges, corrections inside lateness, dead letters beyond it."""

from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.timeaxis import HOUR_MS, from_iso, to_iso
from monitor.events.deadletters import Reason
from monitor.events.parsing import parse_event
from monitor.windows.aggregation import (
    HourlyAggregator,
    Outcome,
    RegionWindows,
    WindowConfig,
    percentile,
)
from tests.helpers import complaint, kpi, region


def ev(raw):
    return parse_event(raw)


def agg_with_lateness(minutes=120, delay_minutes=0, inputs=("complaint",)):
    return HourlyAggregator(
        WindowConfig(
            allowed_lateness_ms=minutes * 60_000,
            watermark_delay_ms=delay_minutes * 60_000,
            inputs=inputs,
        )
    )


BB = "broadband_lag"


def test_window_edge_at_the_last_millisecond():
    agg = agg_with_lateness()
    agg.add(ev(region("r1", 20_000)))
    agg.add(ev(complaint("2026-10-05T09:59:59.999Z", id_="a")))
    agg.add(ev(complaint("2026-10-05T10:00:00.000Z", id_="b")))
    # the watermark reached 10:00:00.000: the 09:00 hour is emitted, 10:00 is still open
    out = agg.poll()
    assert [(a.hour, a.complaints.get(BB, 0)) for a in out] == [
        (from_iso("2026-10-05T09:00:00Z"), 1)
    ]
    agg.add(ev(complaint("2026-10-05T11:00:00.000Z", id_="c")))
    out = agg.poll()
    assert [(a.hour, a.complaints.get(BB, 0), a.revision) for a in out] == [
        (from_iso("2026-10-05T10:00:00Z"), 1, 0)
    ]


def test_rates_are_per_10k_subscribers():
    agg = agg_with_lateness()
    agg.add(ev(region("r1", 20_000)))
    for i in range(3):
        agg.add(ev(complaint("2026-10-05T09:10:00Z", id_=f"c{i}")))
    agg.add(ev(complaint("2026-10-05T10:00:00Z", id_="next")))
    (hour,) = agg.poll()
    metrics = hour.metrics()
    assert metrics["complaints.broadband_lag"] == 3
    assert metrics["complaint_rate.broadband_lag"] == 1.5
    assert metrics["complaints.total"] == 3


def test_kpi_mean_max_p95():
    agg = agg_with_lateness(inputs=("kpi",))
    for i, value in enumerate([1.0, 2.0, 3.0, 4.0, 10.0]):
        agg.add(ev(kpi(f"2026-10-05T09:{i:02d}:00Z", value)))
    agg.add(ev(kpi("2026-10-05T10:00:00Z", 0.0)))
    (hour,) = agg.poll()
    m = hour.metrics()
    assert m["kpi.packet_loss.mean"] == 4.0
    assert m["kpi.packet_loss.max"] == 10.0
    assert abs(m["kpi.packet_loss.p95"] - 8.8) < 1e-9
    assert m["kpi.latency.mean"] != m["kpi.latency.mean"]  # no samples: NaN, not zero


def test_hours_without_events_are_emitted_as_zeros():
    agg = agg_with_lateness()
    agg.add(ev(complaint("2026-10-05T09:00:00Z", region="busy", id_="b0")))
    agg.add(ev(complaint("2026-10-05T12:30:00Z", region="busy", id_="b1")))
    out = agg.poll()
    assert [(a.hour, a.total) for a in out] == [
        (from_iso("2026-10-05T09:00:00Z") + k * HOUR_MS, 1 if k == 0 else 0) for k in range(3)
    ]


def test_watermarks_are_per_region():
    agg = agg_with_lateness()
    agg.add(ev(complaint("2026-10-05T09:00:00Z", region="quiet", id_="q")))
    agg.add(ev(complaint("2026-10-05T11:00:00Z", region="busy", id_="b0")))
    agg.add(ev(complaint("2026-10-05T12:30:00Z", region="busy", id_="b1")))
    # busy's events do not close quiet's hours: a region's hours depend on its own events
    assert {a.region for a in agg.poll()} == {"busy"}
    closed = agg.poll(until=from_iso("2026-10-05T11:00:00Z"))
    assert [(a.region, a.total) for a in closed] == [("quiet", 1), ("quiet", 0)]
    # ... and a late event for quiet is judged by quiet's watermark, not busy's
    late_for_busy = ev(complaint("2026-10-05T10:10:00Z", region="quiet", id_="q2"))
    assert agg.add(late_for_busy) is Outcome.LATE  # accepted; corrects an emitted hour


def test_redelivered_events_count_once():
    agg = agg_with_lateness()
    raw = complaint("2026-10-05T09:10:00Z", id_="same")
    assert agg.add(ev(raw)) is Outcome.ACCEPTED
    assert agg.add(ev(raw)) is Outcome.DUPLICATE
    sample = kpi("2026-10-05T09:20:00Z", 1.5)
    assert agg.add(ev(sample)) is Outcome.ACCEPTED
    assert agg.add(ev(sample)) is Outcome.DUPLICATE
    assert agg.add(ev(kpi("2026-10-05T09:20:00Z", 1.5, site="s2"))) is Outcome.ACCEPTED
    agg.add(ev(complaint("2026-10-05T10:00:00Z", id_="next")))
    (hour,) = agg.poll()
    assert hour.complaints.get(BB, 0) == 1 and hour.kpi["packet_loss"][0] == 2


def test_region_state_survives_serialisation_mid_stream():
    import orjson

    config = WindowConfig(allowed_lateness_ms=HOUR_MS, inputs=("complaint",))
    live = RegionWindows("r1", config)
    events = [
        ev(complaint(f"2026-10-05T{h:02d}:{m:02d}:00Z", id_=f"{h}-{m}"))
        for h in range(9, 14)
        for m in (5, 35)
    ]
    restored_out, live_out = [], []
    for i, event in enumerate(events):
        live.add(event)
        live_out += live.poll()
        if i == 4:  # a worker crashes here; another takes over from the changelog
            restored = RegionWindows.from_json(orjson.loads(orjson.dumps(live.to_json())), config)
            assert restored.add(events[i]) is Outcome.DUPLICATE
            restored_out = list(live_out)
            for later in events[i + 1 :]:
                restored.add(later)
                restored_out += restored.poll()
    assert restored_out == live_out


def test_late_event_within_lateness_corrects_its_hour():
    agg = agg_with_lateness(minutes=60)
    agg.add(ev(complaint("2026-10-05T09:30:00Z", id_="a")))
    agg.add(ev(complaint("2026-10-05T10:30:00Z", id_="b")))
    first = agg.poll()
    assert [(a.revision, a.complaints.get(BB, 0)) for a in first] == [(0, 1)]
    # 09:00 window ends 10:00; + 60 min lateness = 11:00 > watermark 10:30: still correctable
    assert agg.add(ev(complaint("2026-10-05T09:45:00Z", id_="late-ok"))) is Outcome.LATE
    correction = agg.poll()
    assert [(a.hour, a.revision, a.complaints.get(BB, 0)) for a in correction] == [
        (from_iso("2026-10-05T09:00:00Z"), 1, 2)
    ]


def test_event_beyond_lateness_is_dead_lettered_as_late():
    agg = agg_with_lateness(minutes=60)
    agg.add(ev(complaint("2026-10-05T09:30:00Z", id_="a")))
    agg.add(ev(complaint("2026-10-05T11:00:00Z", id_="b")))  # 09:00 + 1h + 60 min = 11:00
    agg.poll()
    raw = complaint("2026-10-05T09:59:59.999Z", id_="too-late")
    letter = agg.add(ev(raw), raw=raw, source="f.jsonl")
    assert letter.reason is Reason.LATE
    assert letter.field == "event_time"
    assert letter.raw == raw
    assert "allowed lateness 3600s" in letter.detail
    # one millisecond later is the next hour: emitted, but still within lateness
    assert agg.add(ev(complaint("2026-10-05T10:00:00Z", id_="just-in-time"))) is Outcome.LATE


def test_zero_lateness_makes_every_out_of_order_event_late():
    agg = agg_with_lateness(minutes=0)
    agg.add(ev(complaint("2026-10-05T10:00:00Z", id_="a")))
    letter = agg.add(ev(complaint("2026-10-05T09:59:59.999Z", id_="b")))
    assert letter.reason is Reason.LATE


def test_watermark_delay_holds_the_window_open():
    agg = agg_with_lateness(minutes=0, delay_minutes=5)
    agg.add(ev(complaint("2026-10-05T09:59:00Z", id_="a")))
    agg.add(ev(complaint("2026-10-05T10:03:00Z", id_="b")))
    assert agg.poll() == []  # watermark 09:58
    assert agg.add(ev(complaint("2026-10-05T09:59:30Z", id_="c"))) is Outcome.ACCEPTED
    agg.add(ev(complaint("2026-10-05T10:05:00Z", id_="d")))
    (hour,) = agg.poll()
    assert hour.complaints.get(BB, 0) == 2 and hour.revision == 0


def test_state_of_final_hours_is_dropped():
    agg = agg_with_lateness(minutes=60)
    for h in range(10):
        agg.add(ev(complaint(from_iso("2026-10-05T00:30:00Z") + h * HOUR_MS, id_=str(h))))
        agg.poll()
    assert len(agg.regions["r1"].buckets) <= 3


def test_aggregate_json_round_trip():
    agg = agg_with_lateness(inputs=("complaint", "kpi"))
    agg.add(ev(region("r1", 50_000)))
    agg.add(ev(complaint("2026-10-05T09:10:00Z")))
    agg.add(ev(kpi("2026-10-05T09:20:00Z", 0.7)))
    agg.add(ev(kpi("2026-10-05T10:20:00Z", 0.7)))
    agg.add(ev(complaint("2026-10-05T10:30:00Z", id_="c2")))
    (hour,) = agg.poll()
    from monitor.windows.aggregation import HourlyAggregate

    assert HourlyAggregate.from_json(hour.to_json()) == hour


def test_percentile_matches_numpy():
    import numpy as np

    values = sorted([3.0, 1.0, 7.5, 2.2, 9.9, 4.4, 0.1])
    assert abs(percentile(values, 0.95) - float(np.percentile(values, 95))) < 1e-12
    assert percentile([5.0], 0.95) == 5.0


def test_replayed_offsets_are_skipped_even_beyond_lateness():
    agg = agg_with_lateness(minutes=0)
    first = ev(complaint("2026-10-05T09:10:00Z", id_="a"))
    assert agg.add(first, position=("raw-0", 10)) is Outcome.ACCEPTED
    agg.add(ev(complaint("2026-10-05T15:00:00Z", id_="b")), position=("raw-0", 11))
    agg.poll()
    # a replay from an older committed offset: already applied, so not a late dead letter
    assert agg.add(first, position=("raw-0", 10)) is Outcome.DUPLICATE
    assert (
        agg.add(ev(complaint("2026-10-05T09:20:00Z", id_="c")), position=("raw-1", 3)).reason
        is Reason.LATE
    )


def test_an_hour_waits_for_every_input():
    agg = agg_with_lateness(inputs=("complaint", "kpi"))
    # the KPI topic was read far ahead; complaints for 09:xx are still to come
    for h in range(9, 15):
        agg.add(ev(kpi(f"2026-10-05T{h:02d}:30:00Z", 1.0)))
    assert agg.poll() == []
    assert agg.add(ev(complaint("2026-10-05T09:40:00Z", id_="a"))) is Outcome.ACCEPTED
    assert agg.add(ev(complaint("2026-10-05T11:05:00Z", id_="b"))) is Outcome.ACCEPTED
    out = agg.poll()
    assert [(a.hour, a.total, a.kpi["packet_loss"][0]) for a in out] == [
        (from_iso("2026-10-05T09:00:00Z"), 1, 1),
        (from_iso("2026-10-05T10:00:00Z"), 0, 1),
    ]


def test_an_idle_input_stops_holding_hours_open():
    config = WindowConfig(inputs=("complaint", "kpi"), idle_ms=60_000)
    state = RegionWindows("r1", config)
    wall = from_iso("2026-10-05T12:30:00Z")  # the runner's clock
    state.add(ev(complaint("2026-10-05T09:10:00Z", id_="a")), now=wall)
    state.add(ev(kpi("2026-10-05T09:20:00Z", 1.0)), now=wall + 1_000)
    state.add(ev(kpi("2026-10-05T12:20:00Z", 1.0)), now=wall + 30_000)
    assert state.poll(now=wall + 30_000) == []  # complaints are quiet, not yet idle
    out = state.poll(now=wall + 61_000)  # a minute of silence: complaints idle, KPIs drive
    assert [a.hour for a in out] == [from_iso(f"2026-10-05T{h:02d}:00:00Z") for h in (9, 10, 11)]


@settings(max_examples=200, deadline=None)
@given(
    lateness=st.integers(0, 4),
    delay=st.integers(0, 3),
    idle=st.sampled_from([None, 60_000]),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["complaint", "kpi"]), st.integers(0, 12 * 60), st.integers(0, 5)
        ),
        max_size=25,
    ),
)
def test_the_shortcut_past_the_watermark_never_hides_a_final_hour(lateness, delay, idle, steps):
    """``add`` asks the watermark only when an hour may be final; whenever it skips the
    question, the answer would have been no."""
    state = RegionWindows(
        "r1",
        WindowConfig(
            allowed_lateness_ms=lateness * HOUR_MS,
            watermark_delay_ms=delay * HOUR_MS,
            inputs=("complaint", "kpi"),
            idle_ms=idle,
        ),
    )
    t0 = from_iso("2026-10-05T00:00:00Z")
    for i, (kind, minute, clock_step) in enumerate(steps):
        at = to_iso(t0 + minute * 60_000)
        raw = complaint(at, id_=f"c{i}") if kind == "complaint" else kpi(at, 1.0)
        state.add(ev(raw), now=t0 + clock_step * 3 * HOUR_MS)  # behind the events, or not
        for hour in range(-2, 14):
            h = t0 + hour * HOUR_MS
            assert state._may_be_final(h) or not state.is_final(h)


@settings(max_examples=200, deadline=None)
@given(
    lateness=st.integers(0, 3),
    steps=st.lists(
        st.tuples(
            st.sampled_from(["complaint", "kpi", "poll"]),
            st.integers(0, 12 * 60),
            st.integers(0, 5),
        ),
        max_size=30,
    ),
)
def test_a_poll_leaves_no_final_hour_in_memory(lateness, steps):
    """``poll`` sweeps only when the final hours' edge moved; the state it leaves is the
    state a sweep on every poll would leave, with the watermark moving back and forth as
    an idle input goes quiet and speaks again."""
    state = RegionWindows(
        "r1",
        WindowConfig(
            allowed_lateness_ms=lateness * HOUR_MS,
            inputs=("complaint", "kpi"),
            idle_ms=60_000,
        ),
    )
    t0 = from_iso("2026-10-05T00:00:00Z")
    for i, (kind, minute, clock_step) in enumerate(steps):
        now = t0 + 6 * HOUR_MS + clock_step * 60_000  # half the events ahead of it
        if kind == "poll":
            state.poll(now=now)
            for store in (state.buckets, state.revisions, state.seen):
                assert not any(state.is_final(hour) for hour in store)
            continue
        at = to_iso(t0 + minute * 60_000)
        raw = complaint(at, id_=f"c{i}") if kind == "complaint" else kpi(at, 1.0)
        state.add(ev(raw), now=now)


# events of three regions at minutes of an 8-hour span, and polls between them
REGION_STEPS = st.lists(
    st.tuples(st.sampled_from(["north", "south", "east", "poll"]), st.integers(0, 8 * 60)),
    max_size=40,
)


@settings(max_examples=100, deadline=None)
@given(steps=REGION_STEPS)
def test_closed_hours_leave_by_hour_then_region(steps):
    """Whatever mix of new hours and corrections a poll closes, they leave in the order
    detection and the hourly topic rely on: hour, then region, then revision."""
    agg = agg_with_lateness(minutes=180)
    t0 = from_iso("2026-10-05T00:00:00Z")
    for i, (name, minute) in enumerate(steps):
        if name == "poll":
            closed = agg.poll()
            assert closed == sorted(closed, key=lambda a: (a.hour, a.region, a.revision))
            continue
        agg.add(ev(complaint(to_iso(t0 + minute * 60_000), region=name, id_=f"c{i}")))
    closed = agg.poll(until=t0 + 10 * HOUR_MS)
    assert closed == sorted(closed, key=lambda a: (a.hour, a.region, a.revision))


@settings(max_examples=150, deadline=None)
@given(steps=REGION_STEPS)
def test_polling_the_changed_regions_closes_what_polling_all_does(steps):
    """A worker closes after every batch but polls only the regions the batch touched: a
    region that took no event since the last poll has nothing new to close, so the hours
    out are those a poll of every region gives."""
    changed, everyone = agg_with_lateness(minutes=60), agg_with_lateness(minutes=60)
    t0 = from_iso("2026-10-05T00:00:00Z")
    for i, (name, minute) in enumerate(steps):
        if name == "poll":
            assert changed.poll_changed() == everyone.poll()
            continue
        raw = complaint(to_iso(t0 + minute * 60_000), region=name, id_=f"c{i}")
        assert changed.add(ev(raw)) == everyone.add(ev(raw))
    assert changed.poll_changed() == everyone.poll()


# -- regions silent on every input (a live runner's ``close_silent``) ---------------------
COMPLAINTS, KPIS = "complaints:0", "kpis:0"  # a live runner's source partitions
MINUTE = 60_000
WALL = from_iso("2026-10-05T14:00:00Z")  # the runner's clock, past every event time here


def clock(minutes: int) -> int:
    return WALL + minutes * MINUTE


def live_windows(delay_minutes: int = 0) -> HourlyAggregator:
    return HourlyAggregator(
        WindowConfig(
            inputs=("complaint", "kpi"),
            idle_ms=5 * MINUTE,
            watermark_delay_ms=delay_minutes * MINUTE,
        )
    )


def read(agg: HourlyAggregator, raw: bytes, source: str, offset: int, now: int) -> object:
    return agg.add(ev(raw), raw, source, (source, offset), now)


def feed(agg: HourlyAggregator, name: str, minutes: range, now: int, start: int = 0) -> int:
    """A complaint and a KPI reading of region ``name`` every 10 minutes of ``minutes``
    (from 08:00), all delivered by the runner's clock ``now``; returns the next offset."""
    offset = start
    for m in minutes:
        at = to_iso(from_iso("2026-10-05T08:00:00Z") + m * MINUTE)
        assert read(agg, complaint(at, region=name, id_=f"{name}{m}"), COMPLAINTS, offset, now)
        assert read(agg, kpi(at, 1.0, region=name), KPIS, offset, now)
        offset += 1
    return offset


def hours(aggregates: list) -> list[tuple[str, str, int, int]]:
    return [(a.region, to_iso(a.hour)[11:16], a.revision, a.total) for a in aggregates]


def test_a_region_silent_on_every_input_closes_as_far_as_the_stream_has_come():
    agg = live_windows()
    offset = feed(agg, "north", range(0, 90, 10), now=clock(0))  # 08:00-09:20, both regions
    offset = feed(agg, "quiet", range(0, 90, 10), now=clock(0), start=offset)
    agg.poll_changed(now=clock(0))  # 08:00 closed for both
    # north goes on to 11:50; quiet's feeds died at 09:20
    offset = feed(agg, "north", range(90, 240, 10), now=clock(2), start=offset)
    assert hours(agg.poll_changed(now=clock(2))) == [
        ("north", "09:00", 0, 6),
        ("north", "10:00", 0, 6),
    ]
    assert agg.close_silent(clock(4)) == []  # quiet for 4 minutes: not idle yet
    offset = feed(agg, "north", range(240, 260, 10), now=clock(6), start=offset)
    assert hours(agg.poll_changed(now=clock(6))) == [("north", "11:00", 0, 6)]
    # by the stream (12:10), quiet's 09:00 hour is complete and 10:00, 11:00 empty
    assert hours(agg.close_silent(clock(6))) == [
        ("quiet", "09:00", 0, 3),
        ("quiet", "10:00", 0, 0),
        ("quiet", "11:00", 0, 0),
    ]
    assert agg.close_silent(clock(7)) == []  # each hour once
    assert "quiet" in agg.take_touched()  # its next hour to close moved: saved next
    # a complaint that was held up is a correction of its hour, not a late dead letter
    held_up = complaint("2026-10-05T10:30:00Z", region="quiet", id_="held-up")
    assert read(agg, held_up, COMPLAINTS, offset, clock(8)) is Outcome.LATE
    assert hours(agg.poll_changed(now=clock(8))) == [("quiet", "10:00", 1, 1)]


def test_no_hour_closes_ahead_of_a_source_still_speaking():
    """A catch-up reads one topic ahead of another: a silent region's hours wait for the
    slower source, as its own watermark waits for its slower input."""
    agg = live_windows()
    offset = feed(agg, "quiet", range(0, 30, 10), now=clock(0))  # 08:00-08:20
    for i, m in enumerate(range(30, 300, 10)):  # KPIs of north read to 12:50 ...
        at = to_iso(from_iso("2026-10-05T08:00:00Z") + m * MINUTE)
        read(agg, kpi(at, 1.0, region="north"), KPIS, offset + i, clock(6))
    at = to_iso(from_iso("2026-10-05T08:00:00Z") + 100 * MINUTE)  # ... complaints to 09:40
    read(agg, complaint(at, region="north", id_="n1"), COMPLAINTS, offset, clock(6))
    assert agg.stream_watermark(clock(6)) == from_iso("2026-10-05T09:40:00Z")
    assert hours(agg.close_silent(clock(6))) == [("quiet", "08:00", 0, 3)]
    # then nothing more arrives: every source idle, the newest of them leads, and north
    # (whose own watermark waited for its complaints) is silent too
    assert agg.stream_watermark(clock(12)) == from_iso("2026-10-05T12:50:00Z")
    assert hours(agg.close_silent(clock(12))) == [
        ("north", "08:00", 0, 0),
        ("north", "09:00", 0, 1),
        ("quiet", "09:00", 0, 0),
        ("north", "10:00", 0, 0),
        ("quiet", "10:00", 0, 0),
        ("north", "11:00", 0, 0),
        ("quiet", "11:00", 0, 0),
    ]


def test_the_delay_holds_a_silent_region_back_as_it_holds_the_others():
    agg = live_windows(delay_minutes=30)
    offset = feed(agg, "quiet", range(0, 30, 10), now=clock(0))
    feed(agg, "north", range(0, 130, 10), now=clock(6), start=offset)  # to 10:00
    assert agg.stream_watermark(clock(6)) == from_iso("2026-10-05T09:30:00Z")
    assert [h[1] for h in hours(agg.close_silent(clock(6)))] == ["08:00"]


def test_an_event_from_a_clock_hours_ahead_closes_nothing_past_the_runners_clock():
    agg = live_windows()
    offset = feed(agg, "quiet", range(0, 30, 10), now=clock(0))
    ahead = kpi("2026-10-05T20:00:00Z", 1.0, region="north")  # 6 h ahead of the clock
    read(agg, ahead, KPIS, offset, clock(6))
    assert agg.stream_watermark(clock(12)) == WALL + 12 * MINUTE
    assert [h[1] for h in hours(agg.close_silent(clock(12)))] == [
        f"{h:02d}:00" for h in range(8, 14)
    ]  # to 14:00, not to 20:00


def test_a_device_clock_hours_ahead_makes_no_one_elses_readings_late():
    """Within ``max_future_ms`` an event is taken, but a live region's watermark stops at
    the runner's clock: one reading stamped 20:00 at 14:00 (its complaints idle) had
    moved it to 20:00, and every true reading of the next hours was a late dead letter."""
    agg = live_windows()
    offset = feed(agg, "north", range(0, 360, 10), now=clock(0))  # 08:00-13:50
    assert hours(agg.poll_changed(now=clock(0)))[-1] == ("north", "12:00", 0, 6)
    ahead = kpi("2026-10-05T20:00:00Z", 1.0, region="north")
    assert read(agg, ahead, KPIS, offset, clock(6)) is Outcome.ACCEPTED
    assert hours(agg.poll_changed(now=clock(6))) == [("north", "13:00", 0, 6)]
    for i, m in enumerate(range(360, 420, 10)):  # the true readings of 14:00, after it
        at = to_iso(from_iso("2026-10-05T08:00:00Z") + m * MINUTE)
        assert read(agg, kpi(at, 1.0, region="north"), KPIS, offset + 1 + i, clock(65)) is (
            Outcome.ACCEPTED
        )
    assert hours(agg.poll_changed(now=clock(65))) == [("north", "14:00", 0, 0)]


def test_without_a_clock_nothing_is_silent():
    """A replay has no clock: its regions close by their own events, and the end of the
    replay closes the rest."""
    agg = agg_with_lateness(inputs=("complaint", "kpi"))
    feed(agg, "quiet", range(0, 30, 10), now=clock(0))
    feed(agg, "north", range(0, 300, 10), now=10**9, start=100)
    assert agg.stream_watermark(10**10) is None
    assert agg.close_silent(10**10) == []
