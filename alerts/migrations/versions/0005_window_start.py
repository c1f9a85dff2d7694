"""A ticket keeps where the window its detector judged began: an early trend fired on 52
hours of complaints reads "judged 10-23 00:00 .. 10-25 04:00", not "02:00 .. 02:00".

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("window_start", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("window_start")
