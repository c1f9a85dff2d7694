"""Complaint volume per region, hour and category (alerts.tickets.volume): the monthly
review's trend of complaints beside the alerts.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "complaint_hours",
        sa.Column("region", sa.String(64), primary_key=True),
        sa.Column("hour", sa.BigInteger(), primary_key=True),
        sa.Column("category", sa.String(48), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.create_index("ix_complaint_hours_hour", "complaint_hours", ["hour"])


def downgrade() -> None:
    op.drop_table("complaint_hours")
