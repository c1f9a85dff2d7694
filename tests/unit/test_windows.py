from detectors.timeaxis import HOUR_MS, from_iso, hour_start, to_iso


def test_last_millisecond_of_an_hour_belongs_to_that_hour():
    edge = from_iso("2026-10-05T09:59:59.999+00:00")
    assert hour_start(edge) == from_iso("2026-10-05T09:00:00+00:00")


def test_top_of_the_hour_opens_the_next_window():
    top = from_iso("2026-10-05T10:00:00+00:00")
    assert hour_start(top) == top
    assert hour_start(top - 1) == top - HOUR_MS


def test_offsets_are_honoured_exactly():
    # 18:00 in UTC+8 is 10:00Z: the same instant, the same window
    assert from_iso("2026-10-05T18:00:00+08:00") == from_iso("2026-10-05T10:00:00Z")
    assert from_iso("2026-10-05T18:59:59.999+08:00") % HOUR_MS == HOUR_MS - 1


def test_iso_round_trip():
    ms = from_iso("2026-10-05T09:59:59.999+00:00")
    assert from_iso(to_iso(ms)) == ms
    assert to_iso(ms, 8).endswith("+08:00")
