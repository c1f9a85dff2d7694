"""The domain's test vocabulary: findings, ticks, clocks, settings and API users.

Shared by unit, service and end-to-end tests, so that a test file never imports another.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path

from alerts.findings import Severity, SpecFinding, TickResult
from alerts.notify.settings import NotificationSettings
from alerts.tickets.api import Role, TokenAuth
from alerts.tickets.store import TicketStore
from detectors.base import Finding
from detectors.timeaxis import HOUR_MS

HOUR = HOUR_MS
MIN = 60_000
T0 = 500_000 * HOUR
ALICE = "alice-token-0123456789"
BOB = "bob-token-0123456789ab"
VIEWER = "vera-token-0123456789ab"
ADMIN = "adam-token-0123456789ab"
AUTH = TokenAuth(
    {ALICE: "alice", BOB: "bob", VIEWER: "vera", ADMIN: "adam"},
    roles={"vera": Role.VIEWER, "adam": Role.ADMIN},
)


def finding(
    hour,
    region="r1",
    metric="complaints.broadband_lag",
    detector="wow",
    observed=130.0,
    spec="spec",
    span=168,
    **fields,
):
    """A major finding of ``spec`` (a week-over-week rise by default) over the ``span``
    hours ending with ``hour``; ``fields`` set any other of the finding's fields."""
    return SpecFinding(
        spec,
        Severity.MAJOR,
        Finding(
            **{
                "detector": detector,
                "region": region,
                "metric": metric,
                "hour": hour,
                "observed": observed,
                "baseline": 100.0,
                "change_pct": observed - 100.0,
                "p_value": 1e-7,
                "window_start": hour - (span - 1) * HOUR,
                "window_end": hour + HOUR,
                "explanation": "rise",
                **fields,
            }
        ),
    )


def tick(hour, *findings, regions=("r1", "r2")):
    return TickResult(hour=hour, regions=frozenset(regions), findings=list(findings))


def run_hours(svc, start_hour, hours, firing_hours, **kw):
    for k in range(hours):
        hour = start_hour + k * HOUR
        found = [finding(hour, **kw)] if k in firing_hours else []
        svc.handle(tick(hour, *found), now=hour + HOUR)


class Clock:
    """Wall clock under the test's control: backoff without sleeping."""

    def __init__(self) -> None:
        self.now = int(time.time() * 1000)

    def __call__(self) -> int:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += int(seconds * 1000)


def settings(channels: dict, routes: list | None = None, **extra) -> NotificationSettings:
    routes = routes if routes is not None else [{"channels": list(channels)}]
    return NotificationSettings.model_validate({"channels": channels, "routes": routes, **extra})


@contextmanager
def database_away(
    tmp_path: Path,
) -> Iterator[tuple[TicketStore, Callable[[], AbstractContextManager[None]]]]:
    """A ticket store on SQLite, and a way to take its database away: inside ``away()``
    no connection opens (a database restarting or unreachable); after it, it is back."""
    home = tmp_path / "db"
    home.mkdir()
    store = TicketStore(f"sqlite:///{home / 'tickets.db'}")

    @contextmanager
    def away() -> Iterator[None]:
        home.rename(tmp_path / "away")
        store.engine.dispose()  # pooled connections would still reach the moved file
        try:
            yield
        finally:
            (tmp_path / "away").rename(home)

    try:
        yield store, away
    finally:
        store.close()


@contextmanager
def database_locked(url: str) -> Iterator[None]:
    """Another process's write lock on a SQLite ticket database, held inside: writers wait
    SQLite's 30 s and are refused "database is locked" (readers go on, in WAL mode)."""
    import sqlite3

    holder = sqlite3.connect(url.removeprefix("sqlite:///"), isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        yield
    finally:
        holder.rollback()
        holder.close()
