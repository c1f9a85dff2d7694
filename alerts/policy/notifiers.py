"""Local records of what the alert service did: a structured log line, a JSONL file.

These are in-process and best effort, for operators' logs and the demo's output. On-call
channels (webhook, Slack, e-mail, Alertmanager) are never called from here: they go
through the persistent outbox (alerts.notify.outbox), which retries until they answer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import orjson

from alerts.tickets.view import TicketView
from detectors.timeaxis import to_iso

log = logging.getLogger("yujing.notify")


@dataclass(frozen=True, slots=True)
class Notification:
    event: str  # opened | refired | recovered | escalated
    ticket: TicketView
    at: int

    def to_json(self) -> dict[str, object]:
        return {"event": self.event, "at": to_iso(self.at)} | self.ticket.to_json()


class Notifier(Protocol):
    def send(self, notification: Notification) -> None: ...


class LogNotifier:
    """One structured log line per notification: greppable, and shipped by any log agent."""

    def send(self, notification: Notification) -> None:
        t = notification.ticket
        log.info(
            "ticket %s",
            notification.event,
            extra={
                "fields": {
                    "ticket_id": t.id,
                    "region": t.region,
                    "metric": t.metric,
                    "detector": t.detector,
                    "department": t.department,
                    "severity": t.severity,
                    "observed": round(t.observed, 3),
                    "baseline": round(t.baseline, 3),
                    "change_pct": None if t.change_pct is None else round(t.change_pct, 1),
                }
            },
        )


class JsonlNotifier:
    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file: IO[bytes] = path.open("ab")

    def send(self, notification: Notification) -> None:
        self._file.write(orjson.dumps(notification.to_json()) + b"\n")
        self._file.flush()

    def close(self) -> None:
        self._file.close()


class MemoryNotifier:
    def __init__(self) -> None:
        self.sent: list[Notification] = []

    def send(self, notification: Notification) -> None:
        self.sent.append(notification)


class FanOut:
    def __init__(self, *notifiers: Notifier) -> None:
        self.notifiers = notifiers

    def send(self, notification: Notification) -> None:
        for notifier in self.notifiers:
            notifier.send(notification)
