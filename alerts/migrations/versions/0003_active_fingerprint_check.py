"""The active fingerprint belongs to active tickets only, as a database constraint.

A ticket holds its fingerprint in ``active_fingerprint`` (unique) exactly while it is
open, acknowledged or in progress; racing transitions once left closed tickets holding
it, and that series could never open a ticket again. Rows already in that state are
repaired first.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None
# as of this revision (a migration is a record: it does not follow later code)
ACTIVE = "'open', 'acknowledged', 'in_progress'"
RULE = (
    f"(state IN ({ACTIVE}) AND active_fingerprint IS NOT NULL) "
    f"OR (state NOT IN ({ACTIVE}) AND active_fingerprint IS NULL)"
)


def upgrade() -> None:
    op.execute(f"UPDATE tickets SET active_fingerprint = NULL WHERE state NOT IN ({ACTIVE})")
    with op.batch_alter_table("tickets") as batch:
        batch.create_check_constraint("active_fingerprint_of_active_tickets", RULE)


def downgrade() -> None:
    with op.batch_alter_table("tickets") as batch:
        batch.drop_constraint("active_fingerprint_of_active_tickets", type_="check")
