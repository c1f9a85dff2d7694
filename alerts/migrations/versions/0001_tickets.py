"""Tickets and their audit trail (the schema before migrations existed).

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("key", sa.String(64), nullable=False, unique=True),
        sa.Column("fingerprint", sa.String(32), nullable=False),
        sa.Column("active_fingerprint", sa.String(32), nullable=True, unique=True),
        sa.Column("region", sa.String(64), nullable=False),
        sa.Column("metric", sa.String(96), nullable=False),
        sa.Column("detector", sa.String(32), nullable=False),
        sa.Column("spec_id", sa.String(64), nullable=False),
        sa.Column("category", sa.String(48), nullable=True),
        sa.Column("department", sa.String(32), nullable=False),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("title", sa.String(256), nullable=False),
        sa.Column("explanation", sa.Text(), nullable=False),
        sa.Column("observed", sa.Float(), nullable=False),
        sa.Column("baseline", sa.Float(), nullable=False),
        sa.Column("change_pct", sa.Float(), nullable=True),
        sa.Column("p_value", sa.Float(), nullable=True),
        sa.Column("first_hour", sa.BigInteger(), nullable=False),
        sa.Column("last_fired_hour", sa.BigInteger(), nullable=False),
        sa.Column("occurrences", sa.Integer(), nullable=False),
        sa.Column("opened_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.Column("acknowledge_by", sa.BigInteger(), nullable=False),
        sa.Column("feedback_by", sa.BigInteger(), nullable=False),
        sa.Column("resolve_by", sa.BigInteger(), nullable=False),
        sa.Column("recovered_at", sa.BigInteger(), nullable=True),
        sa.Column("owner", sa.String(64), nullable=True),
        sa.Column("escalation_level", sa.Integer(), nullable=False),
        sa.Column("first_feedback_at", sa.BigInteger(), nullable=True),
        sa.Column("escalated", sa.String(64), nullable=False),
    )
    op.create_index("ix_tickets_fingerprint", "tickets", ["fingerprint"])
    op.create_index("ix_tickets_region", "tickets", ["region"])
    op.create_index("ix_tickets_department", "tickets", ["department"])
    op.create_index("ix_tickets_state", "tickets", ["state"])
    op.create_table(
        "ticket_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("ticket_id", sa.Integer(), sa.ForeignKey("tickets.id"), nullable=False),
        sa.Column("at", sa.BigInteger(), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_state", sa.String(16), nullable=True),
        sa.Column("to_state", sa.String(16), nullable=True),
        sa.Column("comment", sa.Text(), nullable=False),
    )
    op.create_index("ix_ticket_events_ticket_id", "ticket_events", ["ticket_id"])


def downgrade() -> None:
    op.drop_table("ticket_events")
    op.drop_table("tickets")
