"""experiments and their units' arms

Revision ID: 0011
Revises: 0010
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "experiments",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("salt", sa.String(100), nullable=False),
        sa.Column("arms", sa.JSON(), nullable=False),
        sa.Column("metric", sa.String(32), nullable=False),
        sa.Column("settings", sa.JSON(), nullable=False),
        sa.Column("stage", sa.Integer(), nullable=False),
        sa.Column("stage_started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("decision", sa.JSON(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint("project_id", "name", name="uq_experiments_project_name"),
    )
    op.create_table(
        "experiment_units",
        sa.Column("experiment_id", sa.Integer(), sa.ForeignKey("experiments.id"), primary_key=True),
        sa.Column("unit", sa.String(255), primary_key=True),
        sa.Column("arm", sa.String(100), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("experiment_units")
    op.drop_table("experiments")
