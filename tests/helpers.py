"""Small builders shared by the tests."""

from __future__ import annotations

import orjson

from detectors.timeaxis import from_iso

T0 = from_iso("2026-10-05T00:00:00+00:00")


def complaint(
    ts: str | int,
    region: str = "r1",
    category: str = "broadband_lag",
    id_: str = "c1",
    **extra: object,
) -> bytes:
    event = {
        "type": "complaint",
        "id": id_,
        "event_time": ts,
        "region": region,
        "category": category,
        "channel": "app",
        **extra,
    }
    return orjson.dumps(event)


def kpi(
    ts: str | int, value: float, region: str = "r1", name: str = "packet_loss", site: str = "s1"
) -> bytes:
    return orjson.dumps(
        {
            "type": "kpi",
            "event_time": ts,
            "region": region,
            "site": site,
            "kpi": name,
            "value": value,
        }
    )


def region(name: str = "r1", subscribers: int = 10_000) -> bytes:
    return orjson.dumps({"type": "region", "region": name, "subscribers": subscribers})
