"""pre-generated content variants per segment

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-30
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
        "variants",
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("name", sa.String(200), primary_key=True),
        sa.Column("segment", sa.String(255), primary_key=True),
        sa.Column("task", sa.String(100), nullable=False),
        sa.Column("generation_id", sa.String(32), sa.ForeignKey("generations.id"), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("variants")
