"""Rounds that failed half-way, and how long the worker waits before the next one.

A round fails without killing the worker when what it writes to refuses (the ticket
database restarting, a broker refusing a write). Its partitions start over from their
committed offsets (``aggregate.start_over``); a wait that doubles with each failure in a
row keeps a long outage from spinning the worker through restores of its state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

FIRST_WAIT_S = 1.0
MAX_WAIT_S = 60.0


@dataclass
class Failures:
    """Rounds failed in a row, and when the next round may run."""

    in_a_row: int = 0
    resume_at: float = 0.0  # time.monotonic()

    def failed(self, now: float | None = None) -> float:
        """One more failure; returns the wait before the next round."""
        now = time.monotonic() if now is None else now
        self.in_a_row += 1
        wait = min(FIRST_WAIT_S * 2 ** min(self.in_a_row - 1, 16), MAX_WAIT_S)
        self.resume_at = now + wait
        return wait

    def succeeded(self) -> None:
        self.in_a_row = 0

    def waiting(self, now: float | None = None) -> float:
        """Seconds until the next round may run (0: now)."""
        return max(0.0, self.resume_at - (time.monotonic() if now is None else now))
