"""Alembic environment: the engine comes from the caller (alerts.database), never an ini file."""

from __future__ import annotations

from alembic import context

import alerts.notify.outbox
import alerts.tickets.models  # the models, for autogenerate
import alerts.tickets.volume  # noqa: F401
from alerts.database import Base, lock_for_migrations, make_engine

engine = context.config.attributes.get("engine")
if engine is None:  # the alembic command line: -x url=...
    engine = make_engine(context.get_x_argument(as_dictionary=True)["url"])

with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        lock_for_migrations(connection)
        context.run_migrations()
