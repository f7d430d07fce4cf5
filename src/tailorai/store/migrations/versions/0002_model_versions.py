"""model versions and their promotions

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_PRODUCTION = sa.text("stage = 'production'")


def upgrade() -> None:
    op.create_table(
        "model_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("method", sa.String(16), nullable=False),
        sa.Column("stage", sa.String(16), nullable=False),
        sa.Column("base_model", sa.Text(), nullable=False),
        sa.Column("dataset_id", sa.String(64), nullable=True),
        sa.Column("path", sa.Text(), nullable=False),
        sa.Column("config", sa.JSON(), nullable=False),
        sa.Column("metrics", sa.JSON(), nullable=False),
        sa.Column("lineage", sa.JSON(), nullable=False),
        sa.Column("chat_template", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("name", "version", name="uq_model_versions_name_version"),
    )
    op.create_index("ix_model_versions_name", "model_versions", ["name"])
    op.create_index("ix_model_versions_scope", "model_versions", ["scope"])
    # At most one production version per scope, enforced by the database (a partial index
    # works the same on SQLite and PostgreSQL).
    op.create_index(
        "ix_model_versions_one_production_per_scope",
        "model_versions",
        ["scope"],
        unique=True,
        sqlite_where=_PRODUCTION,
        postgresql_where=_PRODUCTION,
    )
    op.create_table(
        "model_promotions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("scope", sa.String(300), nullable=False),
        sa.Column("version_id", sa.Integer(), sa.ForeignKey("model_versions.id"), nullable=False),
        sa.Column(
            "previous_version_id",
            sa.Integer(),
            sa.ForeignKey("model_versions.id"),
            nullable=True,
        ),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rolled_back_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_model_promotions_scope", "model_promotions", ["scope"])


def downgrade() -> None:
    op.drop_index("ix_model_promotions_scope", table_name="model_promotions")
    op.drop_table("model_promotions")
    op.drop_index("ix_model_versions_one_production_per_scope", table_name="model_versions")
    op.drop_index("ix_model_versions_scope", table_name="model_versions")
    op.drop_index("ix_model_versions_name", table_name="model_versions")
    op.drop_table("model_versions")
