"""segmentations and segment assignments

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

_PRODUCTION = sa.text("stage = 'production'")


def upgrade() -> None:
    op.create_table(
        "segmentations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("method", sa.String(32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("summary", sa.JSON(), nullable=False),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("users", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("project_id", "version", name="uq_segmentations_project_version"),
    )
    op.create_index(
        "ix_segmentations_one_production",
        "segmentations",
        ["project_id"],
        unique=True,
        sqlite_where=_PRODUCTION,
        postgresql_where=_PRODUCTION,
    )
    op.create_table(
        "segment_assignments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("user_key", sa.String(255), nullable=False),
        sa.Column("segment", sa.String(255)),
        sa.Column("previous", sa.String(255)),
        sa.Column(
            "segmentation_id", sa.Integer(), sa.ForeignKey("segmentations.id"), nullable=False
        ),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_segment_assignments_user", "segment_assignments", ["project_id", "user_key", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_segment_assignments_user", "segment_assignments")
    op.drop_table("segment_assignments")
    op.drop_index("ix_segmentations_one_production", "segmentations")
    op.drop_table("segmentations")
