"""A two-signal detector's ticket keeps its other series' figures: a site fault
precursor's packet loss (0.24 -> 1.69 %), a capacity shortage's utilisation (97.9 %,
limit 90 %), beside complaints that may sit at their usual level.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("signal", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("signal")
