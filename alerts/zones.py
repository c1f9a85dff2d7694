"""The operator's time zone: an offset (``+08:00``) or an IANA name (``Asia/Shanghai``).

Yujing computes in UTC; the zone is for people (times in messages and tables) and for
rules written in local time (the evening peak, holidays). A named zone follows daylight
saving, an offset does not.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

OFFSET = re.compile(r"^(?:UTC)?([+-])(\d{1,2}):?(\d{2})?$")


def zone_of(text: str) -> tzinfo:
    """``+08:00``, ``UTC+8``, ``Z``/``UTC`` or an IANA name; ValueError otherwise."""
    cleaned = text.strip()
    if cleaned.upper() in ("Z", "UTC"):
        return UTC
    match = OFFSET.match(cleaned)
    if match:
        sign, hours, minutes = match.groups()
        delta = timedelta(hours=int(hours), minutes=int(minutes or 0))
        if delta > timedelta(hours=14):
            raise ValueError(f"offset {text!r} is beyond +-14:00")
        return timezone(-delta if sign == "-" else delta)
    try:
        return ZoneInfo(cleaned)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {text!r} (an offset like +08:00 or a name like Asia/Shanghai)"
        ) from exc


def offset_ms(zone: tzinfo, epoch_ms: int) -> int:
    """The zone's offset from UTC at that moment, in milliseconds."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone(zone)
    offset = moment.utcoffset()
    return 0 if offset is None else int(offset.total_seconds() * 1000)


def local_iso(epoch_ms: int, zone: tzinfo) -> str:
    """A time for people, in the operator's zone with its offset (to the minute)."""
    return (
        datetime.fromtimestamp(epoch_ms / 1000, tz=UTC)
        .astimezone(zone)
        .isoformat(timespec="minutes")
    )


FIRST_YEAR, LAST_YEAR = 1970, 9998  # the months a review can be of


def month_span(month: str, zone: tzinfo) -> tuple[int, int]:
    """``2026-10`` in the operator's zone as [start, end) epoch ms; ValueError otherwise."""
    try:
        first = datetime.strptime(month, "%Y-%m").replace(tzinfo=zone)
    except ValueError as exc:
        raise ValueError(f"month {month!r}: expected YYYY-MM") from exc
    # a review reaches into the weeks around its month: year 1 or 9999 ended in Python's
    # "year 0 is out of range"
    if not FIRST_YEAR <= first.year <= LAST_YEAR:
        raise ValueError(f"month {month!r}: expected {FIRST_YEAR}-01 to {LAST_YEAR}-12")
    after = first.replace(year=first.year + first.month // 12, month=first.month % 12 + 1)
    return int(first.timestamp() * 1000), int(after.timestamp() * 1000)


def local_text(epoch_ms: int, zone: tzinfo) -> str:
    """A moment as people read it, with its offset: 2026-10-05 20:00 +08:00."""
    moment = datetime.fromtimestamp(epoch_ms / 1000, tz=UTC).astimezone(zone)
    offset = moment.strftime("%z")
    return f"{moment:%Y-%m-%d %H:%M} {offset[:3]}:{offset[3:]}"
