"""Times in an operator's export: ISO 8601, epoch milliseconds or a stated format, and a
zone only when one is stated.

CRM and OSS exports often write local times without an offset. Guessing the zone would
shift every hour of a region by the guess's error, so a zone-less time is an error unless
the person importing says which zone the export is in (``--assume-timezone``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class TimeReader:
    """Reads one time cell into epoch milliseconds, or raises ValueError saying why."""

    assume: tzinfo | None = None  # the export's zone, for times without an offset
    format: str | None = None  # strptime format, when the export is not ISO 8601

    def epoch_ms(self, text: str) -> int:
        cell = text.strip()
        if not cell:
            raise ValueError("empty time")
        if cell.isdigit():
            return int(cell)  # epoch milliseconds
        try:
            if self.format is not None:
                moment = datetime.strptime(cell, self.format)
            else:
                moment = datetime.fromisoformat(cell.replace("Z", "+00:00"))
        except ValueError as exc:
            wanted = f"the format {self.format!r}" if self.format else "ISO 8601"
            raise ValueError(f"{cell!r} is not a time in {wanted}") from exc
        if moment.tzinfo is None:
            if self.assume is None:
                raise ValueError(
                    f"{cell!r} has no UTC offset: say which zone the export is in "
                    "(--assume-timezone +08:00)"
                )
            moment = moment.replace(tzinfo=self.assume)
        delta = moment - EPOCH
        return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
