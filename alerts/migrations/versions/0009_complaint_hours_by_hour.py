"""Complaint volume keyed by hour first (and on SQLite without a rowid): a catch-up
writes its hours in order, and the review reads a month as one range of the key, so the
separate index on the hour goes.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

COLUMNS = ("region", "hour", "category", "count")


def _rebuild(key: tuple[str, ...], rowid: bool) -> None:
    """The table again with ``key`` as its primary key, its rows copied (a primary key's
    columns cannot be reordered in place on SQLite; one way for both databases)."""
    op.create_table(
        "complaint_hours_new",
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("hour", sa.BigInteger(), nullable=False),
        sa.Column("category", sa.String(48), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(*key),
        sqlite_with_rowid=rowid,
    )
    names = ", ".join(COLUMNS)
    op.execute(f"INSERT INTO complaint_hours_new ({names}) SELECT {names} FROM complaint_hours")
    op.drop_table("complaint_hours")  # (its index on the hour with it)
    op.rename_table("complaint_hours_new", "complaint_hours")
    if op.get_bind().dialect.name == "postgresql":  # the key keeps its first name there
        op.execute("ALTER INDEX complaint_hours_new_pkey RENAME TO complaint_hours_pkey")


def upgrade() -> None:
    _rebuild(("hour", "region", "category"), rowid=False)


def downgrade() -> None:
    _rebuild(("region", "hour", "category"), rowid=True)
    op.create_index("ix_complaint_hours_hour", "complaint_hours", ["hour"])
