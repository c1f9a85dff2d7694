"""The live side of alerting that runs on the wall clock, not on data: SLA escalation and
outbox delivery. One step per second from whatever hosts it (a Faust timer, `yujing api`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

from alerts.database import DATABASE_AWAY, database_said
from alerts.notify.outbox import Dispatcher, wall_ms

log = logging.getLogger("yujing.housekeeping")

SAY_EVERY = 60  # failed steps in a row between two error lines (a minute at one a second)


@dataclass
class Housekeeping:
    escalate: Callable[[int], object]  # AlertService.escalate or TicketStore.escalate_due
    dispatcher: Dispatcher
    escalate_every_ms: int = 15_000
    clock: Callable[[], int] = wall_ms
    last_escalation: int | None = None
    failing: int = 0  # steps in a row the ticket database refused

    def step(self) -> None:
        """Blocking I/O: call it off an event loop. Escalate when due, then deliver.

        A ticket database that is restarting, locked or unreachable is said, once a
        minute, and tried again on the next step: it ended the worker or `yujing api`
        hosting this, to be restarted by hand for what the database's return mends.
        """
        now = self.clock()
        try:
            if self.last_escalation is None or now - self.last_escalation >= self.escalate_every_ms:
                self.last_escalation = now
                self.escalate(now)
            self.dispatcher.run_once()
        except DATABASE_AWAY as error:
            if self.failing % SAY_EVERY == 0:
                log.error(
                    "ticket database unavailable: escalation and delivery wait for it",
                    extra={"fields": {"error": database_said(error), "failed_steps": self.failing}},
                )
            self.failing += 1
            return
        if self.failing:
            log.warning(
                "ticket database back: escalation and delivery resume",
                extra={"fields": {"failed_steps": self.failing}},
            )
            self.failing = 0
