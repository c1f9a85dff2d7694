"""The ticket schema is Alembic's: fresh databases, pre-migration files and model drift."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from alerts.database import (
    HEAD_REVISION,
    Base,
    SchemaOutdated,
    alembic_config,
    current_revision,
    make_engine,
    upgrade,
)
from alerts.tickets.store import TicketStore


def head(engine) -> str:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def test_a_fresh_database_is_migrated_to_head_and_matches_the_models(db_url):
    store = TicketStore(db_url)
    assert current_revision(store.engine) == head(store.engine)
    with store.engine.connect() as conn:
        drift = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert drift == [], f"models and migrations differ: {drift}"
    store.close()


def test_the_fast_path_knows_the_newest_migration(db_url):
    """Opening a database at HEAD_REVISION skips alembic: it must be alembic's head."""
    store = TicketStore(db_url)
    assert head(store.engine) == HEAD_REVISION
    store.close()


def test_opening_twice_is_a_no_op(db_url):
    TicketStore(db_url).close()
    store = TicketStore(db_url)
    assert current_revision(store.engine) == head(store.engine)
    store.close()


def test_a_database_from_before_migrations_is_adopted_and_upgraded(db_url):
    engine = make_engine(db_url)
    upgrade(engine, "0001")  # what create_all made before migrations existed...
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE alembic_version"))  # ...without a version table
    assert current_revision(engine) is None
    engine.dispose()
    store = TicketStore(db_url)
    assert current_revision(store.engine) == head(store.engine)
    store.close()


def test_a_database_older_than_the_baseline_is_refused_with_the_missing_columns(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE tickets (id INTEGER PRIMARY KEY, key VARCHAR(64))"))
    engine.dispose()
    with pytest.raises(SchemaOutdated, match=r"table tickets lacks .*escalated"):
        TicketStore(url)


def test_workers_starting_together_on_a_fresh_sqlite_file_all_succeed(tmp_path):
    import subprocess
    import sys

    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    code = (
        "import sys; from alerts.tickets.store import TicketStore; TicketStore(sys.argv[1]).close()"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, url], stderr=subprocess.PIPE)
        for _ in range(4)
    ]
    errors = [p.communicate(timeout=120)[1].decode()[-500:] for p in procs]
    assert [p.returncode for p in procs] == [0, 0, 0, 0], errors
    store = TicketStore(url)
    assert current_revision(store.engine) == head(store.engine)
    store.close()


def test_complaint_counts_survive_the_rekeying_by_hour_and_back(db_url):
    """0009 rebuilds complaint_hours keyed by hour first: the counts written before it are
    read, and upserted, as before; its downgrade keeps them too."""
    from alembic import command

    from alerts.tickets import volume

    engine = make_engine(db_url)
    upgrade(engine, "0008")
    rows = [("north", 7_200_000, "weak_signal", 3), ("south", 3_600_000, "billing_dispute", 1)]
    with engine.begin() as conn:
        for row in rows:
            conn.execute(
                text("INSERT INTO complaint_hours VALUES (:r, :h, :c, :n)"),
                dict(zip("rhcn", row, strict=True)),
            )
    engine.dispose()
    store = TicketStore(db_url)  # upgraded to head on opening
    assert sorted(store.complaints(0, 10_800_000)) == sorted(volume.Count(*r) for r in rows)
    store.record_complaints([("north", 7_200_000, {"weak_signal": 5})])  # replaces, not adds
    assert store.complaints(7_200_000, 10_800_000) == [
        volume.Count("north", 7_200_000, "weak_signal", 5)
    ]
    command.downgrade(alembic_config(store.engine), "0008")
    with store.engine.connect() as conn:
        held = conn.execute(text("SELECT region, hour, category, count FROM complaint_hours"))
        assert sorted(map(tuple, held)) == sorted([rows[1], ("north", 7_200_000, "weak_signal", 5)])
    store.close()
