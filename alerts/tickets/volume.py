"""Complaint volume per region, hour and category, kept beside the tickets.

The monthly review puts the trend of complaints next to the alerts they raised; the
hourly aggregates that carry it live on a topic with a retention, so the counts the
review needs are written here when an hour is judged. One row per region, hour and
category with complaints (an hour without complaints writes nothing). An hour written
again (a late event's correction, a worker replaying after a crash) replaces its counts:
the write is idempotent, nothing is counted twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import NamedTuple

from sqlalchemy import BigInteger, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from alerts.database import Base


class ComplaintHour(Base):
    __tablename__ = "complaint_hours"

    region: Mapped[str] = mapped_column(String(64), primary_key=True)
    hour: Mapped[int] = mapped_column(BigInteger, primary_key=True, index=True)
    category: Mapped[str] = mapped_column(String(48), primary_key=True)
    count: Mapped[int] = mapped_column(Integer)


class Count(NamedTuple):
    region: str
    hour: int
    category: str
    count: int


def _upsert(dialect: str):  # noqa: ANN202 - the dialect's insert construct
    """On the table, not the mapped class: the ORM's bulk path cost ~2x per row (a
    catch-up writes a row per region, hour and category)."""
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        from sqlalchemy.dialects.sqlite import insert
    stmt = insert(ComplaintHour.__table__)
    return stmt.on_conflict_do_update(
        index_elements=["region", "hour", "category"], set_={"count": stmt.excluded.count}
    )


def record(session: Session, hours: Iterable[tuple[str, int, Mapping[str, int]]]) -> int:
    """Write (region, hour, {category: count}) rows; returns how many counts were written."""
    rows = [
        {"region": region, "hour": hour, "category": category, "count": int(n)}
        for region, hour, counts in hours
        for category, n in counts.items()
        if n > 0
    ]
    if rows:
        session.execute(_upsert(session.get_bind().dialect.name), rows)
    return len(rows)


def read(session: Session, start: int, end: int) -> list[Count]:
    """The counts of hours in [start, end)."""
    q = select(
        ComplaintHour.region, ComplaintHour.hour, ComplaintHour.category, ComplaintHour.count
    ).where(ComplaintHour.hour >= start, ComplaintHour.hour < end)
    return [Count(*row) for row in session.execute(q)]
