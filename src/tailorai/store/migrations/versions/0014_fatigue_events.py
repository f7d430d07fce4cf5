"""fatigue events: sends counted against frequency caps, capped sends, repeats

Revision ID: 0014
Revises: 0013
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fatigue_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("user_key", sa.String(255), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text()),
        sa.Column("generation_id", sa.String(32)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_fatigue_events_user",
        "fatigue_events",
        ["project_id", "user_key", "channel", "created_at"],
    )
    op.create_index("ix_fatigue_events_project", "fatigue_events", ["project_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_fatigue_events_project", "fatigue_events")
    op.drop_index("ix_fatigue_events_user", "fatigue_events")
    op.drop_table("fatigue_events")
