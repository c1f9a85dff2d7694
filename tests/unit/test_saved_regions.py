"""A worker holds the regions of the partitions it takes over from the windows table
before they speak, so a region silent since before the worker started is closed with the
stream (``close_silent``). A saved state that does not load is left to its region's next
event (which dead-letters it, as before): the others are held all the same."""

from __future__ import annotations

import orjson

from monitor.config.load import load_config
from monitor.runners.faust.bundles import partition_for
from monitor.runners.faust.core import WorkerCore
from monitor.runners.faust.settings import WorkerSettings
from monitor.windows.aggregation import RegionWindows, WindowConfig


def saved(name: str) -> bytes:
    state = RegionWindows(name, WindowConfig())
    state.kind_max = {"complaint": 1_791_187_200_000, "kpi": 1_791_187_200_000}
    state.next_close = 1_791_187_200_000
    return orjson.dumps(state.to_json())


def test_the_owned_regions_are_held_and_a_bad_state_spares_the_others(tmp_path, caplog):
    settings = WorkerSettings(database_url=f"sqlite:///{tmp_path / 't.db'}", partitions=4)
    core = WorkerCore(settings, load_config())
    try:
        names = [f"region-{i}" for i in range(40)]
        mine = {n for n in names if partition_for(n, 4) in (0, 1)}
        core.assigned = {0, 1}
        broken = sorted(mine)[:2]
        records = [(n.encode(), saved(n)) for n in names if n not in broken]
        records += [
            (broken[0].encode(), b"{not json"),
            (broken[1].encode(), orjson.dumps({"region": broken[1]})),  # no buckets
            (b"region-none", None),  # a deleted key
        ]
        assert core.hold_saved(records) == len(mine) - 2
        held = core.pipeline.aggregator.regions
        assert set(held) == mine - set(broken)  # a standby partition's regions are not
        assert held[sorted(mine - set(broken))[0]].next_close == 1_791_187_200_000
        warned = [r for r in caplog.records if r.getMessage() == "saved window state unreadable"]
        assert sorted(r.fields["region"] for r in warned) == broken  # type: ignore[attr-defined]
        assert core.hold_saved(records) == 0  # held once
    finally:
        core.close()
        core.store.close()
