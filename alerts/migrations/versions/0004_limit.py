"""A ticket keeps the fixed line its detector compared with (a threshold's limit) apart
from the series' normal level: "1.21 (limit 1.0, normal ~0.2)", not "+21% vs 1.0".

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.add_column(sa.Column("limit_value", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_column("limit_value")
