"""The hour a ticket's figures are of, and the detector they are from: a finding on
another series of the same problem (packet loss beside weak-signal complaints) moves the
ticket's last fired hour but not its figures, and "judged 28 h" was counted from the
figures' first hour to that other finding's, on a 24-hour detector; and a site fault's
ticket fed by the early trend's finding said "site fault precursor" of a week's sums.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("observed_hour", sa.BigInteger(), nullable=True))
        batch.add_column(sa.Column("observed_by", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("observed_by")
        batch.drop_column("observed_hour")
