"""Bundles carry validated events to the partition their region maps to, losslessly."""

from types import SimpleNamespace

import msgspec
import orjson
import pytest

from monitor.events.deadletters import Reason
from monitor.events.decoding import model_of
from monitor.events.parsing import parse_event, parse_record
from monitor.runners.faust.aggregate import unbundle
from monitor.runners.faust.bundles import (
    BUNDLE_HEADER,
    BUNDLE_V1,
    decode_bundle,
    encode_bundle,
    encode_bundles,
    encode_safely,
    partition_for,
)

RAWS = [
    b'{"type":"kpi","event_time":0,"region":"r1","site":"s","kpi":"latency","value":3}',
    '{"type":"complaint","id":"c1","event_time":"2026-11-27T08:00:00+08:00","region":"r2",'
    '"category":"broadband_lag","channel":"app","text":"宽带卡顿"}'.encode(),
    b'{"type":"kpi_report","period_start":0,"interval_s":300,"region":"r1","site":"s",'
    b'"kpis":{"latency":[1,2.5],"packet_loss":[0.1]}}',
]


def items(fast: bool = True):
    parse = parse_record if fast else parse_event
    return [(raw, f"yujing.kpis:{i % 2}", 7 + i, parse(raw)) for i, raw in enumerate(RAWS)]


def models(items):
    return [(raw, source, offset, model_of(event)) for raw, source, offset, event in items]


@pytest.mark.parametrize("fast", [True, False], ids=["structs", "models"])
def test_round_trip_keeps_bytes_sources_offsets_and_events(fast):
    """Events the intake decoded (structs) or the models built come back as the same
    events, field by field."""
    sent = items(fast)
    back = decode_bundle(encode_bundle(sent))
    assert models(back) == models(sent)  # arrival order kept; events equal field by field
    assert all(isinstance(b[3], msgspec.Struct) for b in back)  # no model built for them
    assert [type(model_of(b[3])) for b in back] == [type(model_of(s[3])) for s in sent]
    assert model_of(back[1][3]).model_dump_json() == model_of(sent[1][3]).model_dump_json()


def test_a_large_batch_is_split_into_bundles_under_the_size_limit():
    raw = RAWS[0][:-1] + b',"pad": "' + b"x" * 1000 + b'"}'
    event = parse_event(raw)
    sent = [(raw, "t:0", i, event) for i in range(1000)]
    bundles = encode_bundles(sent, max_bytes=100_000)
    assert len(bundles) == 11 and all(len(b) < 150_000 for b in bundles)
    assert models([i for b in bundles for i in decode_bundle(b)]) == sent


@pytest.mark.parametrize(
    "value",
    [
        b'{"type": "kpi"}',
        msgspec.msgpack.encode((1, [], [], [], [], [])),
        msgspec.msgpack.encode((2, ["t:0"], [0], [1], [b"{}"], [{"type": "region"}])),
        msgspec.msgpack.encode((2, ["t:0"], [0], [1], [b"{}"], [{"type": "kpi", "x": 1}])),
        msgspec.msgpack.encode((2, ["t:0"], [0], [1], [b"{}"], [{"type": ["kpi"]}])),
        msgspec.msgpack.encode((2, ["t:0"], [0], [1], [b"{}"], [["kpi", 1]])),
        msgspec.msgpack.encode((2, ["t:0"], [0, 0], [1], [b"{}"], [])),
    ],
)
def test_what_is_not_a_bundle_is_refused_with_a_reason(value):
    with pytest.raises(ValueError, match=r"bundle|fields"):
        decode_bundle(value)


def record(value, headers):
    return SimpleNamespace(
        value=value,
        message=SimpleNamespace(topic="yujing.events", partition=3, offset=41, headers=headers),
    )


def test_the_aggregation_dead_letters_a_false_bundle_and_reads_the_rest():
    good = encode_bundle(items())
    got, dead = unbundle([record(b"garbage", [BUNDLE_HEADER]), record(good, [BUNDLE_HEADER])])
    assert models(got) == models(items())
    (letter,) = dead
    assert letter.reason is Reason.UNREADABLE and letter.raw == b"garbage"
    assert (letter.source, letter.offset) == ("yujing.events:3", 41)


def test_a_version_1_bundle_is_still_read_and_its_events_validated_again():
    v1 = orjson.dumps(
        {"v": 1, "sources": ["k:0"], "src": [0], "off": [5], "raw": [RAWS[0].decode()]}
    )
    got, dead = unbundle([record(v1, [(BUNDLE_HEADER[0], BUNDLE_V1)])])
    assert got == [(RAWS[0], "k:0", 5, None)] and dead == []


def test_partition_matches_the_kafka_clients_default_partitioner():
    from aiokafka.partitioner import DefaultPartitioner

    partitions = list(range(8))
    for region in [f"region-{i:04d}" for i in range(200)] + ["上海-浦东"]:
        assert partition_for(region, 8) == DefaultPartitioner()(
            region.encode(), partitions, partitions
        )
        assert partition_for(region.encode(), 8) == partition_for(region, 8)  # a key


def test_an_event_no_bundle_can_carry_is_set_aside_and_the_rest_are_bundled():
    """MessagePack has no int beyond 64 bits: such an event becomes a dead letter (the
    intake's), not an exception that stops the intake."""
    huge = RAWS[0].replace(b'"event_time":0', b'"event_time":' + str(2**70).encode())
    sent = [*items(), (huge, "yujing.kpis:0", 99, parse_record(huge))]
    bundles, refused = encode_safely(sent)
    assert [item[2] for item in refused] == [99]
    assert models([i for b in bundles for i in decode_bundle(b)]) == models(sent[:-1])
