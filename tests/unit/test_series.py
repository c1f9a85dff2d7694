"""The series store keeps its history bounded and intact across shifts."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from detectors.timeaxis import HOUR_MS
from monitor.detection.store import SeriesStore
from monitor.windows.aggregation import (
    CATEGORIES,
    KPIS,
    HourlyAggregate,
    metric_columns,
    metric_names,
    metric_reader,
)
from tests.helpers import T0


def agg(hour: int, value: int, region: str = "r1") -> HourlyAggregate:
    return HourlyAggregate(
        region=region,
        hour=hour,
        revision=0,
        subscribers=None,
        complaints=tuple([value] * len(CATEGORIES)),
        kpi={},
    )


def test_history_survives_many_shifts_and_memory_stays_bounded():
    store = SeriesStore(["complaints.broadband_lag"], history_hours=200)
    hours = 1000  # several weekly shifts
    for h in range(hours):
        store.update(agg(T0 + h * HOUR_MS, h))
    end = T0 + (hours - 1) * HOUR_MS
    got = store.window("complaints.broadband_lag", end, 200).values[0]
    assert got.tolist() == list(range(hours - 200, hours))
    assert store.data["complaints.broadband_lag"].shape[1] <= 200 + 168
    assert np.isnan(store.window("complaints.broadband_lag", end, 400).values[0][0])


def test_rows_held_for_a_batch_of_new_regions_keep_what_was_written():
    """A catch-up's first batch brings every region at once: their rows are made with one
    copy, and the rows written before keep their values."""
    store = SeriesStore(["complaints.broadband_lag"], history_hours=200)
    for i in range(70):  # past the first 64 rows: one growth by doubling
        store.update(agg(T0, i, region=f"r{i}"))
    names = [f"r{i}" for i in range(1000)]
    store.hold(names + names[:10])  # repeated and known names count once
    rows = store.data["complaints.broadband_lag"].shape[0]
    assert 1000 <= rows < 2000
    for i, name in enumerate(names):
        store.update(agg(T0 + HOUR_MS, i, region=name))
    assert store.data["complaints.broadband_lag"].shape[0] == rows  # no copy since
    got = store.window("complaints.broadband_lag", T0 + HOUR_MS, 2)
    assert got.values[:70, 0].tolist() == list(range(70))
    assert got.values[:, 1].tolist() == list(range(1000))


def test_a_batch_is_written_as_one_aggregate_at_a_time_would_be():
    """Corrections later in the batch win; hours that push the origin forward, and hours
    older than the kept history, land (or not) as they would one by one."""
    metrics = ["complaints.broadband_lag", "complaints.total", "complaint_rate.total"]
    batch = [agg(T0 + h * HOUR_MS, h % 7, region=f"r{h % 5}") for h in range(300)]
    batch.append(agg(T0 + 299 * HOUR_MS, 40, region="r4"))  # a correction of an hour
    batch.append(agg(T0 - 900 * HOUR_MS, 9, region="r9"))  # older than the history
    one, many = SeriesStore(metrics, history_hours=200), SeriesStore(metrics, history_hours=200)
    for a in batch:
        one.update(a)
    many.update_many(batch[:150])
    many.update_many(batch[150:])
    assert one.origin == many.origin and one.regions == many.regions
    for m in metrics:
        assert np.array_equal(one.data[m], many.data[m], equal_nan=True)
    assert one.window("complaints.broadband_lag", T0 + 299 * HOUR_MS, 1).values[4, 0] == 40


# names an aggregate may carry: the defaults, an operator's own, one that is both a
# complaint category and a KPI, and "total" as a category's name
NAMES = st.sampled_from([*CATEGORIES[:3], *KPIS[:2], "billing_new", "latency", "total"])
STATS = st.tuples(st.integers(1, 50), *[st.floats(-1e6, 1e6, allow_nan=False) for _ in range(3)])
AGGREGATES = st.builds(
    HourlyAggregate,
    region=st.just("r1"),
    hour=st.just(T0),
    revision=st.just(0),
    subscribers=st.one_of(st.none(), st.just(0), st.integers(1, 10**7)),
    complaints=st.dictionaries(NAMES, st.integers(0, 10**6), max_size=5),
    kpi=st.dictionaries(NAMES, STATS, max_size=4),
)
ODD = [
    "kpi.latency.p95",
    "kpi.latency.p50",
    "kpi.nothing",
    "nonsense",
    "complaints.",
    "complaint_rate.billing_new",
    "complaints.latency",
    "complaint_rate.total",
]


@settings(max_examples=200, deadline=None)
@given(st.lists(AGGREGATES, max_size=12))
def test_metric_columns_read_what_metric_reader_reads(aggregates):
    """The store's batch write reads every metric as one aggregate's ``value`` does,
    bit for bit (NaN where the reader gives NaN)."""
    metrics = metric_names() + ODD
    columns = metric_columns(aggregates, metrics)
    assert set(columns) == set(metrics)
    for m in metrics:
        expected = np.array([metric_reader(m)(a) for a in aggregates], dtype=float)
        assert columns[m].shape == (len(aggregates),)
        assert np.array_equal(columns[m], expected, equal_nan=True), m
