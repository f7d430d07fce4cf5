"""feedback, per-generation rewards, event cursors

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feedback",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("generation_id", sa.String(32), sa.ForeignKey("generations.id"), nullable=False),
        sa.Column("user_key", sa.String(255)),
        sa.Column("thumbs", sa.Integer()),
        sa.Column("rating", sa.Integer()),
        sa.Column("comment", sa.Text()),
        sa.Column("correction", sa.Text()),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("idempotency_key", sa.String(128)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_id", "idempotency_key", name="uq_feedback_project_key"),
    )
    op.create_index("ix_feedback_generation", "feedback", ["generation_id"])
    op.create_index("ix_feedback_project_created", "feedback", ["project_id", "created_at"])
    op.create_table(
        "generation_rewards",
        sa.Column(
            "generation_id", sa.String(32), sa.ForeignKey("generations.id"), primary_key=True
        ),
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("user_key", sa.String(255)),
        sa.Column("thumbs", sa.Integer()),
        sa.Column("rating", sa.Integer()),
        sa.Column("corrected", sa.Boolean(), nullable=False),
        sa.Column("comments", sa.Integer(), nullable=False),
        sa.Column("exposures", sa.Integer(), nullable=False),
        sa.Column("exposed_at", sa.DateTime(timezone=True)),
        sa.Column("last_activity", sa.DateTime(timezone=True)),
        sa.Column("clicked", sa.Boolean(), nullable=False),
        sa.Column("dwell_s", sa.Float()),
        sa.Column("converted", sa.Boolean(), nullable=False),
        sa.Column("session_s", sa.Float(), nullable=False),
        sa.Column("reward", sa.Float(), nullable=False),
        sa.Column("negative", sa.Boolean(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_generation_rewards_user", "generation_rewards", ["project_id", "user_key"])
    op.create_table(
        "cursors",
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("name", sa.String(100), primary_key=True),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cursors")
    op.drop_index("ix_generation_rewards_user", "generation_rewards")
    op.drop_table("generation_rewards")
    op.drop_index("ix_feedback_project_created", "feedback")
    op.drop_index("ix_feedback_generation", "feedback")
    op.drop_table("feedback")
