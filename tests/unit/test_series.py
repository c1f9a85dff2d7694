"""The series store keeps its history bounded and intact across shifts."""

import numpy as np

from detectors.timeaxis import HOUR_MS
from monitor.detection.store import SeriesStore
from monitor.windows.aggregation import CATEGORIES, HourlyAggregate
from tests.helpers import T0


def agg(hour: int, value: int) -> HourlyAggregate:
    return HourlyAggregate(
        region="r1",
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
