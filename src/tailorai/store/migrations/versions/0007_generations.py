"""generation records

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "generations",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("user_key", sa.String(255)),
        sa.Column("segment", sa.String(255)),
        sa.Column("task", sa.String(100), nullable=False),
        sa.Column("rung", sa.String(32), nullable=False),
        sa.Column("model_version", sa.String(120)),
        sa.Column("adapter", sa.String(300)),
        sa.Column("template_version", sa.String(120)),
        sa.Column("experiment_arm", sa.String(120)),
        sa.Column("backend", sa.String(32), nullable=False),
        sa.Column("inputs", sa.JSON(), nullable=False),
        sa.Column("prompt", sa.JSON(), nullable=False),
        sa.Column("output", sa.Text(), nullable=False),
        sa.Column("prompt_tokens", sa.Integer(), nullable=False),
        sa.Column("completion_tokens", sa.Integer(), nullable=False),
        sa.Column("finish_reason", sa.String(16)),
        sa.Column("latency_ms", sa.Float(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_generations_project_created", "generations", ["project_id", "created_at"])
    op.create_index(
        "ix_generations_project_user", "generations", ["project_id", "user_key", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_generations_project_user", "generations")
    op.drop_index("ix_generations_project_created", "generations")
    op.drop_table("generations")
