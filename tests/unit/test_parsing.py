"""Every kind of bad event becomes a dead letter that names its field and reason."""

import orjson
import pytest

from detectors.timeaxis import from_iso
from monitor.events.deadletters import DeadLetter, Reason
from monitor.events.parsing import parse_event, parse_record
from monitor.events.schemas import ComplaintEvent, KpiSample, RegionInfo
from tests.helpers import complaint, kpi, region

GOOD_TIME = "2026-10-05T10:00:00+08:00"


def test_valid_events_parse():
    c = parse_event(complaint(GOOD_TIME, text="宽带卡顿"))
    assert isinstance(c, ComplaintEvent)
    assert c.event_time == from_iso("2026-10-05T02:00:00Z")
    assert isinstance(parse_event(kpi(GOOD_TIME, 0.5)), KpiSample)
    assert isinstance(parse_event(region()), RegionInfo)
    assert isinstance(parse_event(kpi(1_759_629_600_000, 0.5)), KpiSample)


@pytest.mark.parametrize(
    ("raw", "reason", "field"),
    [
        (b'{"type": "complaint", "id": "x"', Reason.MALFORMED_JSON, None),
        (b"not json at all", Reason.MALFORMED_JSON, None),
        (b"[1, 2]", Reason.NOT_AN_OBJECT, None),
        (b'{"type": "weather"}', Reason.UNKNOWN_TYPE, "type"),
        (b'{"id": "no-type"}', Reason.UNKNOWN_TYPE, "type"),
        (
            b'{"type": "complaint", "event_time": "2026-10-05T10:00:00+08:00", "region": "r1",'
            b' "category": "weak_signal", "channel": "app"}',
            Reason.MISSING_FIELD,
            "id",
        ),
        (complaint(GOOD_TIME, category="alien_abduction"), Reason.UNKNOWN_CATEGORY, "category"),
        (complaint(GOOD_TIME).replace(b'"app"', b'"pigeon"'), Reason.UNKNOWN_CHANNEL, "channel"),
        (kpi(GOOD_TIME, 1.0).replace(b'"packet_loss"', b'"jitter"'), Reason.UNKNOWN_KPI, "kpi"),
        (kpi(GOOD_TIME, 1.0).replace(b"1.0", b'"fast"'), Reason.WRONG_TYPE, "value"),
        (kpi(GOOD_TIME, 1.0).replace(b"1.0", b"NaN"), Reason.NON_FINITE, "value"),
        (kpi(GOOD_TIME, 1.0).replace(b"1.0", b"Infinity"), Reason.NON_FINITE, "value"),
        (kpi(GOOD_TIME, 1.0).replace(b"1.0", b"1e999"), Reason.NON_FINITE, "value"),
        (kpi(GOOD_TIME, 140.0), Reason.OUT_OF_RANGE, "value"),
        (kpi(GOOD_TIME, -1.0, name="latency"), Reason.OUT_OF_RANGE, "value"),
        (complaint("2026-10-05 10:00:00"), Reason.BAD_TIME, "event_time"),
        (complaint("yesterday"), Reason.BAD_TIME, "event_time"),
        (complaint(GOOD_TIME, region="bad region!"), Reason.INVALID_FORMAT, "region"),
        (complaint(GOOD_TIME, id_=""), Reason.INVALID_FORMAT, "id"),
        (region(subscribers=0), Reason.OUT_OF_RANGE, "subscribers"),
        (complaint(GOOD_TIME).replace(b'"r1"', b"42"), Reason.WRONG_TYPE, "region"),
    ],
)
def test_bad_events_become_dead_letters_with_reason(raw, reason, field):
    result = parse_event(raw, source="test.jsonl", offset=3)
    assert isinstance(result, DeadLetter), result
    assert result.reason is reason, result.detail
    assert result.field == field
    assert result.raw == raw
    assert result.source == "test.jsonl" and result.offset == 3
    assert result.detail


def test_topic_kind_must_agree_with_declared_type():
    result = parse_event(kpi(GOOD_TIME, 1.0), kind="complaint")
    assert isinstance(result, DeadLetter)
    assert result.reason is Reason.UNKNOWN_TYPE


def test_type_may_be_omitted_when_the_topic_says_it():
    raw = complaint(GOOD_TIME).replace(b'"type":"complaint",', b"")
    assert b"type" not in raw
    assert isinstance(parse_event(raw, kind="complaint"), ComplaintEvent)


def test_dead_letter_json_keeps_undecodable_bytes():
    letter = parse_event(b"\xff\xfe garbage")
    assert isinstance(letter, DeadLetter)
    doc = letter.to_json()
    assert doc["raw"] is None and doc["raw_base64"]
    assert doc["reason"] == "malformed_json"


@pytest.mark.parametrize(
    ("region", "says"),
    [
        ("", "region: empty (a name is 1-64 ASCII letters"),
        ("bad region!", "'bad region!' is no name"),
    ],
)
def test_a_refused_name_is_told_in_words_not_as_a_pattern(region, says):
    """An empty region cell of a CSV export was told "String should match pattern
    '^[A-Za-z0-9]...'"."""
    record = {
        "type": "complaint", "id": "c1", "event_time": "2026-10-01T08:00:00+08:00",
        "region": region, "category": "broadband_lag", "channel": "app",
    }  # fmt: skip
    letter = parse_record(orjson.dumps(record))
    assert isinstance(letter, DeadLetter) and letter.reason is Reason.INVALID_FORMAT
    assert says in letter.detail and "pattern" not in letter.detail
