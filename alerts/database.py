"""The ticket database: engine settings per backend and schema migrations (Alembic).

Every process that opens the database brings it to the newest schema first, under a
lock on PostgreSQL so that workers starting together do not race each other's DDL.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase

if TYPE_CHECKING:
    from alembic.config import Config

# the first migration's tables, as created by create_all before migrations existed
BASELINE_REVISION = "0001"
# the newest migration (a test holds it to alembic's head): a database already there is
# opened without loading alembic at all, which keeps short commands short
HEAD_REVISION = "0011"
ADVISORY_LOCK_ID = 0x59554A49  # "YUJI"
# what a database restarting, locked past its wait or unreachable raises: something to
# wait out and say in a line, not a crash or a traceback
DATABASE_AWAY = (OperationalError, InterfaceError)


def database_said(error: DBAPIError) -> str:
    """The first line of what the database said: SQLAlchemy's message adds the statement
    and its parameters (a batch of complaint counts, thousands of characters)."""
    lines = str(error.orig).strip().splitlines()
    return lines[0][:300] if lines else type(error.orig).__name__


class SchemaOutdated(RuntimeError):
    """The ticket database was created by a version of Yujing that migrations cannot read."""


class Base(DeclarativeBase):
    pass


def make_engine(url: str) -> Engine:
    # several workers may share one SQLite file in tests: wait for the lock, do not fail
    connect_args = {"timeout": 30} if url.startswith("sqlite") else {}
    engine = create_engine(url, future=True, connect_args=connect_args)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: object, _record: object) -> None:
            cursor = dbapi_conn.cursor()  # type: ignore[attr-defined]
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

    return engine


def alembic_config(engine: Engine) -> Config:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(resources.files("alerts") / "migrations"))
    cfg.attributes["engine"] = engine
    return cfg


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def _stamped_revision(engine: Engine) -> str | None:
    """alembic_version's row by plain SQL (None when there is no such table yet)."""
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except SQLAlchemyError:
        return None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema to ``revision``; a pre-migration database of the baseline is adopted.

    Workers that start together must not both create the tables: PostgreSQL serialises
    them with an advisory lock inside the migration; a SQLite file with a lock file next
    to it (pysqlite does not hold SQLite's write lock across DDL statements).
    """
    if revision == "head" and _stamped_revision(engine) == HEAD_REVISION:
        return
    from alembic import command

    with _file_lock(engine):
        url = engine.url.render_as_string(hide_password=True)
        if current_revision(engine) is None and inspect(engine).has_table("tickets"):
            _adopt_baseline(engine, url)
        command.upgrade(alembic_config(engine), revision)


@contextmanager
def _file_lock(engine: Engine) -> Iterator[None]:
    path = engine.url.database if engine.dialect.name == "sqlite" else None
    if not path or path == ":memory:" or path.startswith("file:"):
        yield
        return
    with open(f"{path}.migrate-lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _adopt_baseline(engine: Engine, url: str) -> None:
    """Tables made by create_all before migrations: stamp them if they are the baseline."""
    from alembic import command

    from alerts.migrations.baseline import BASELINE_COLUMNS

    have = inspect(engine)
    for table, columns in BASELINE_COLUMNS.items():
        present = {c["name"] for c in have.get_columns(table)} if have.has_table(table) else set()
        missing = sorted(set(columns) - present)
        if missing:
            raise SchemaOutdated(
                f"ticket database {url} predates migrations and is older than their baseline: "
                f"table {table} lacks {', '.join(missing)}; start from a new database"
            )
    command.stamp(alembic_config(engine), BASELINE_REVISION)


def lock_for_migrations(conn: object) -> None:
    """Serialise concurrent upgrades on PostgreSQL (SQLite's file lock does it there)."""
    if conn.dialect.name == "postgresql":  # type: ignore[attr-defined]
        conn.execute(text(f"SELECT pg_advisory_xact_lock({ADVISORY_LOCK_ID})"))  # type: ignore[attr-defined]
