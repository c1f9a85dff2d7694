"""The live side of alerting that runs on the wall clock, not on data: SLA escalation and
outbox delivery. One step per second from whatever hosts it (a Faust timer, `yujing api`)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from alerts.notify.outbox import Dispatcher, wall_ms


@dataclass
class Housekeeping:
    escalate: Callable[[int], object]  # AlertService.escalate or TicketStore.escalate_due
    dispatcher: Dispatcher
    escalate_every_ms: int = 15_000
    clock: Callable[[], int] = wall_ms
    last_escalation: int | None = None

    def step(self) -> None:
        """Blocking I/O: call it off an event loop. Escalate when due, then deliver."""
        now = self.clock()
        if self.last_escalation is None or now - self.last_escalation >= self.escalate_every_ms:
            self.last_escalation = now
            self.escalate(now)
        self.dispatcher.run_once()
