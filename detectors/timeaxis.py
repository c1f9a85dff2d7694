"""Event-time arithmetic for hourly tumbling windows, on integer epoch milliseconds.

Integers, not datetimes: an event at hh:59:59.999 and one at hh+1:00:00.000 must fall in
different hours on every machine, and float seconds cannot promise that.
"""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

HOUR_MS = 3_600_000
DAY_MS = 24 * HOUR_MS
WEEK_MS = 7 * DAY_MS
WEEK_HOURS = 168  # the weekly season: hour-of-week baselines, week-over-week windows


def hour_start(epoch_ms: int) -> int:
    """Start of the hour window that contains ``epoch_ms`` (windows are [start, start+1h))."""
    return epoch_ms - epoch_ms % HOUR_MS


def hour_end(window_start: int) -> int:
    return window_start + HOUR_MS


@lru_cache(maxsize=4096)
def to_iso(epoch_ms: int, offset_hours: int = 0) -> str:
    """Render a time for people and files; the offset is the operator's local zone.
    Cached: every region's aggregate of an hour carries that hour rendered (~4 µs each)."""
    from datetime import timedelta, timezone

    zone = UTC if offset_hours == 0 else timezone(timedelta(hours=offset_hours))
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=zone)
    return moment.isoformat(timespec="milliseconds" if epoch_ms % 1000 else "seconds")


def from_iso(text: str) -> int:
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        raise ValueError(f"time {text!r} has no UTC offset")
    delta = moment - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
