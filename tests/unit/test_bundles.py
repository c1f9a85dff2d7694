"""Bundles carry validated raw events to the partition their region maps to, losslessly."""

import pytest

from monitor.runners.faust.bundles import (
    decode_bundle,
    encode_bundle,
    encode_bundles,
    partition_for,
)


def test_round_trip_keeps_bytes_sources_and_offsets():
    items = [
        (b'{"type":"kpi","region":"r1"}', "yujing.kpis:0", 7),
        ('{"type":"complaint","text":"宽带卡顿"}'.encode(), "yujing.complaints:1", 3),
        (b'{"type":"kpi","region":"r2"}', "yujing.kpis:0", 9),
    ]
    assert decode_bundle(encode_bundle(items)) == items  # arrival order kept


def test_a_large_batch_is_split_into_bundles_under_the_size_limit():
    items = [(b'{"pad": "' + b"x" * 1000 + b'"}', "t:0", i) for i in range(1000)]
    bundles = encode_bundles(items, max_bytes=100_000)
    assert len(bundles) == 11 and all(len(b) < 150_000 for b in bundles)
    assert [i for b in bundles for i in decode_bundle(b)] == items


def test_a_foreign_record_is_not_a_bundle():
    with pytest.raises(ValueError):
        decode_bundle(b'{"type": "kpi"}')


def test_partition_matches_the_kafka_clients_default_partitioner():
    from aiokafka.partitioner import DefaultPartitioner

    partitions = list(range(8))
    for region in [f"region-{i:04d}" for i in range(200)] + ["上海-浦东"]:
        assert partition_for(region, 8) == DefaultPartitioner()(
            region.encode(), partitions, partitions
        )
