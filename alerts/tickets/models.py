"""The ticket tables: tickets and their audit trail (SQLAlchemy, SQLite or PostgreSQL).

Times are integer epoch milliseconds: the same on every backend, and the same clock the
pipeline reasons in.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, CheckConstraint, Float, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from alerts.database import Base
from alerts.tickets.lifecycle import ACTIVE_FINGERPRINT_RULE

MAX_ID = 2**31 - 1  # ids are 32-bit integers on PostgreSQL (``Integer``)


class Ticket(Base):
    __tablename__ = "tickets"
    __table_args__ = (
        CheckConstraint(ACTIVE_FINGERPRINT_RULE, name="active_fingerprint_of_active_tickets"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    fingerprint: Mapped[str] = mapped_column(String(32), index=True)
    # = fingerprint while the ticket is active, NULL after: the unique constraint makes
    # "one active ticket per fingerprint" hold across workers, in the database itself
    active_fingerprint: Mapped[str | None] = mapped_column(String(32), unique=True)
    region: Mapped[str] = mapped_column(String(64), index=True)
    metric: Mapped[str] = mapped_column(String(96))
    detector: Mapped[str] = mapped_column(String(32))
    spec_id: Mapped[str] = mapped_column(String(64))
    category: Mapped[str | None] = mapped_column(String(48))
    department: Mapped[str] = mapped_column(String(32), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(256))
    explanation: Mapped[str] = mapped_column(Text)
    observed: Mapped[float] = mapped_column(Float)
    baseline: Mapped[float] = mapped_column(Float)
    limit_value: Mapped[float | None] = mapped_column(Float)  # a threshold's fixed line
    change_pct: Mapped[float | None] = mapped_column(Float)
    p_value: Mapped[float | None] = mapped_column(Float)
    first_hour: Mapped[int] = mapped_column(BigInteger)
    # start of the hours the latest finding judged (a 52-hour trend, a 7-day sum)
    window_start: Mapped[int | None] = mapped_column(BigInteger)
    # the hour of the finding whose figures (observed, baseline, explanation) it shows: a
    # finding on another series of the problem moves ``last_fired_hour`` only
    observed_hour: Mapped[int | None] = mapped_column(BigInteger)
    observed_by: Mapped[str | None] = mapped_column(String(32))  # that finding's detector
    # the sites to inspect first, as a JSON list (alerts.tickets.view.encode_sites)
    sites: Mapped[str | None] = mapped_column(Text)
    # a two-signal detector's other series and its figures, as a JSON object
    # (alerts.tickets.view.encode_signal)
    signal: Mapped[str | None] = mapped_column(Text)
    # what a resolved ticket turned out to be (alerts.outcomes); None while open
    outcome: Mapped[str | None] = mapped_column(String(32))
    cause: Mapped[str | None] = mapped_column(String(32))
    last_fired_hour: Mapped[int] = mapped_column(BigInteger)
    occurrences: Mapped[int] = mapped_column(Integer, default=1)
    opened_at: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[int] = mapped_column(BigInteger)
    acknowledge_by: Mapped[int] = mapped_column(BigInteger)
    feedback_by: Mapped[int] = mapped_column(BigInteger)
    resolve_by: Mapped[int] = mapped_column(BigInteger)
    recovered_at: Mapped[int | None] = mapped_column(BigInteger)
    owner: Mapped[str | None] = mapped_column(String(64))
    escalation_level: Mapped[int] = mapped_column(Integer, default=0)
    first_feedback_at: Mapped[int | None] = mapped_column(BigInteger)
    # SLA clocks already escalated ("acknowledge,feedback,resolve"): each escalates once
    escalated: Mapped[str] = mapped_column(String(64), default="")

    events: Mapped[list[TicketEvent]] = relationship(
        back_populates="ticket", order_by="TicketEvent.id", cascade="all, delete-orphan"
    )


class TicketEvent(Base):
    """Audit trail: every transition and update, with who did it and when."""

    __tablename__ = "ticket_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("tickets.id"), index=True)
    at: Mapped[int] = mapped_column(BigInteger)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(32))
    from_state: Mapped[str | None] = mapped_column(String(16))
    to_state: Mapped[str | None] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(Text, default="")

    ticket: Mapped[Ticket] = relationship(back_populates="events")
