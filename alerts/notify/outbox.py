"""The notification outbox: written in the ticket's own transaction, delivered with retries.

A ticket change and the rows announcing it commit together, so a crash can lose neither
alone. Any process holding the database may deliver: a row is leased before it is sent,
so two dispatchers never send the same row at once, and a dispatcher that dies mid-send
lets the lease lapse and the row is sent again. Receivers get an idempotency key per
(ticket, event, channel) to drop such a repeat.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import orjson
from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, Text, func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from alerts.database import Base
from alerts.notify.channels import DeliveryFailed, Outgoing, Sender, build_sender
from alerts.notify.messages import build_payload, event_name, units_of
from alerts.notify.settings import NotificationSettings, Retry

if TYPE_CHECKING:  # imported where a client is made: reading tickets sends nothing
    import httpx

log = logging.getLogger("yujing.outbox")


class DeliveryState(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    DEAD = "dead"


class Delivery(Base):
    __tablename__ = "deliveries"
    __table_args__ = (Index("ix_deliveries_due", "state", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(128), unique=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("ticket_events.id"))
    channel: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    state: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[int] = mapped_column(BigInteger)
    lease_until: Mapped[int | None] = mapped_column(BigInteger)
    created_at: Mapped[int] = mapped_column(BigInteger)
    delivered_at: Mapped[int | None] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text)


def delivery_key(ticket_id: int, event_id: int, channel: str) -> str:
    return f"ticket-{ticket_id}/event-{event_id}/{channel}"


def wall_ms() -> int:
    return int(time.time() * 1000)


def enqueue(
    session: Session,
    settings: NotificationSettings | None,
    ticket: dict[str, Any],
    event: Any,
    created_at: int,
) -> int:
    """Rows for every channel routed to this (ticket, audit event); same transaction.

    ``ticket`` is the ticket's JSON (``TicketView.to_json``); ``event`` its new audit row.
    """
    if settings is None or not settings.routes:
        return 0
    name = event_name(event.action)
    channels = settings.channels_for(name, ticket["severity"], ticket["department"])
    if not channels:
        return 0
    session.flush()  # the event's id is part of the key
    payload = orjson.dumps(
        build_payload(
            ticket,
            name,
            event.actor,
            event.comment,
            event.at,
            settings.links,
            settings.timezone,
            settings.runbooks.get(str(ticket.get("spec_id", ""))),
            **units_of(ticket, settings),
        )
    ).decode()
    ticket_id = ticket["ticket_id"]
    for channel in channels:
        session.add(
            Delivery(
                key=delivery_key(ticket_id, event.id, channel),
                ticket_id=ticket_id,
                event_id=event.id,
                channel=channel,
                payload=payload,
                state=DeliveryState.PENDING.value,
                attempts=0,
                next_attempt_at=0,
                created_at=created_at,
            )
        )
    return len(channels)


@dataclass(frozen=True, slots=True)
class Attempt:
    key: str
    channel: str
    ok: bool
    error: str | None = None
    dead: bool = False


@dataclass
class DispatchStats:
    delivered: int = 0
    failed: int = 0
    dead: int = 0
    by_channel: dict[str, int] = field(default_factory=dict)


@dataclass
class Dispatcher:
    """Sends due deliveries; call ``run_once`` from a loop or a timer."""

    engine: Engine
    senders: Mapping[str, Sender]
    retry: Retry = field(default_factory=Retry)
    clock: Callable[[], int] = wall_ms
    batch: int = 100
    stats: DispatchStats = field(default_factory=DispatchStats)

    def configure(self, settings: NotificationSettings, client: httpx.Client | None = None) -> None:
        """New channels and retry policy (config reload); rows already queued keep their key."""
        self.senders = build_senders(settings, client)
        self.retry = settings.retry

    def drain(self, deadline_s: float = 30.0) -> int:
        """Deliver until nothing is due (end of a replay); returns what is still pending."""
        end = time.monotonic() + deadline_s
        while time.monotonic() < end and self.run_once():
            pass
        return self.pending()

    @classmethod
    def for_settings(
        cls, engine: Engine, settings: NotificationSettings, clock: Callable[[], int] = wall_ms
    ) -> Dispatcher:
        return cls(engine, build_senders(settings), settings.retry, clock)

    def _claim(self, now: int) -> list[Delivery]:
        lease = now + int(self.retry.lease_seconds * 1000)
        with Session(self.engine, expire_on_commit=False) as s, s.begin():
            due = s.scalars(
                select(Delivery)
                .where(
                    Delivery.state == DeliveryState.PENDING.value,
                    Delivery.next_attempt_at <= now,
                    (Delivery.lease_until.is_(None)) | (Delivery.lease_until < now),
                )
                .order_by(Delivery.id)
                .limit(self.batch)
            ).all()
            claimed = []
            for row in due:
                # compare-and-set: another dispatcher that leased it first wins
                won = s.execute(
                    update(Delivery)
                    .where(
                        Delivery.id == row.id,
                        Delivery.state == DeliveryState.PENDING.value,
                        (Delivery.lease_until.is_(None)) | (Delivery.lease_until < now),
                    )
                    .values(lease_until=lease)
                ).rowcount
                if won:
                    claimed.append(row)
            return claimed

    def run_once(self) -> list[Attempt]:
        """One pass over due rows; a channel that fails is skipped for the rest of the pass."""
        now = self.clock()
        attempts: list[Attempt] = []
        failing: set[str] = set()
        for row in self._claim(now):
            if row.channel in failing:
                self._release(row.id)
                continue
            attempts.append(self._deliver(row, failing))
        return attempts

    def _release(self, row_id: int) -> None:
        with Session(self.engine) as s, s.begin():
            s.execute(update(Delivery).where(Delivery.id == row_id).values(lease_until=None))

    def _deliver(self, row: Delivery, failing: set[str]) -> Attempt:
        sender = self.senders.get(row.channel)
        error: DeliveryFailed | None = None
        if sender is None:
            error = DeliveryFailed(f"channel {row.channel!r} is not configured", retryable=True)
        else:
            try:
                sender(Outgoing(row.key, orjson.loads(row.payload)))
            except DeliveryFailed as exc:
                error = exc
        now = self.clock()
        with Session(self.engine) as s, s.begin():
            current = s.get(Delivery, row.id)
            assert current is not None
            current.attempts += 1
            current.lease_until = None
            if error is None:
                current.state = DeliveryState.DELIVERED.value
                current.delivered_at = now
                current.last_error = None
                self.stats.delivered += 1
                self.stats.by_channel[row.channel] = self.stats.by_channel.get(row.channel, 0) + 1
                return Attempt(row.key, row.channel, True)
            failing.add(row.channel)
            current.last_error = error.reason
            dead = not error.retryable or current.attempts >= self.retry.max_attempts
            if dead:
                current.state = DeliveryState.DEAD.value
                self.stats.dead += 1
            else:
                current.next_attempt_at = now + self.retry.backoff_ms(current.attempts)
                self.stats.failed += 1
            log.warning(
                "delivery failed",
                extra={
                    "fields": {
                        "key": row.key,
                        "channel": row.channel,
                        "attempt": current.attempts,
                        "error": error.reason,
                        "dead": dead,
                        "next_attempt_at": current.next_attempt_at,
                    }
                },
            )
            return Attempt(row.key, row.channel, False, error.reason, dead)

    def pending(self) -> int:
        with Session(self.engine) as s:
            return (
                s.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.state == DeliveryState.PENDING.value)
                )
                or 0
            )


def build_senders(
    settings: NotificationSettings, client: httpx.Client | None = None
) -> dict[str, Sender]:
    if client is None:
        import httpx

        client = httpx.Client()
    return {name: build_sender(cfg, client, name) for name, cfg in settings.channels.items()}


def counts(engine: Engine) -> dict[tuple[str, str], int]:
    """(channel, state) -> rows, for metrics and `yujing outbox`."""
    with Session(engine) as s:
        rows = s.execute(
            select(Delivery.channel, Delivery.state, func.count()).group_by(
                Delivery.channel, Delivery.state
            )
        ).all()
        return {(c, st): n for c, st, n in rows}


def retry_dead(engine: Engine, channel: str | None = None) -> int:
    """Put dead deliveries back in the queue (after fixing an endpoint's config)."""
    with Session(engine) as s, s.begin():
        stmt = update(Delivery).where(Delivery.state == DeliveryState.DEAD.value)
        if channel:
            stmt = stmt.where(Delivery.channel == channel)
        return s.execute(
            stmt.values(state=DeliveryState.PENDING.value, next_attempt_at=0, attempts=0)
        ).rowcount
