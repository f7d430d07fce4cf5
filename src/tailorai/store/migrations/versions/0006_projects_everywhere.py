"""every row belongs to a project: users, datasets, model versions and promotions

Existing rows go to the project "default", which is created when missing.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PRODUCTION = sa.text("stage = 'production'")


def _project_column() -> sa.Column:
    return sa.Column("project_id", sa.String(64), nullable=False, server_default="default")


def upgrade() -> None:
    op.execute(
        "INSERT INTO projects (id, created_at) SELECT 'default', CURRENT_TIMESTAMP "
        "WHERE NOT EXISTS (SELECT 1 FROM projects WHERE id = 'default')"
    )
    # A user id is unique within its project only: the key becomes (project_id, id). The table
    # is rebuilt rather than altered, the same way on SQLite and PostgreSQL.
    op.create_table(
        "users_by_project",
        _project_column(),
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project_id", "id", name="pk_users"),
    )
    op.execute(
        "INSERT INTO users_by_project (project_id, id, traits, first_seen, last_seen) "
        "SELECT 'default', id, traits, first_seen, last_seen FROM users"
    )
    op.drop_table("users")
    op.rename_table("users_by_project", "users")
    with op.batch_alter_table("datasets") as batch:
        batch.add_column(_project_column())
    with op.batch_alter_table("model_versions") as batch:
        batch.add_column(_project_column())
        batch.drop_constraint("uq_model_versions_name_version", type_="unique")
        batch.create_unique_constraint(
            "uq_model_versions_project_name_version", ["project_id", "name", "version"]
        )
        batch.drop_index("ix_model_versions_one_production_per_scope")
        batch.create_index(
            "ix_model_versions_one_production_per_scope",
            ["project_id", "scope"],
            unique=True,
            sqlite_where=_PRODUCTION,
            postgresql_where=_PRODUCTION,
        )
    with op.batch_alter_table("model_promotions") as batch:
        batch.add_column(_project_column())


def downgrade() -> None:
    with op.batch_alter_table("model_promotions") as batch:
        batch.drop_column("project_id")
    with op.batch_alter_table("model_versions") as batch:
        batch.drop_index("ix_model_versions_one_production_per_scope")
        batch.create_index(
            "ix_model_versions_one_production_per_scope",
            ["scope"],
            unique=True,
            sqlite_where=_PRODUCTION,
            postgresql_where=_PRODUCTION,
        )
        batch.drop_constraint("uq_model_versions_project_name_version", type_="unique")
        batch.create_unique_constraint("uq_model_versions_name_version", ["name", "version"])
        batch.drop_column("project_id")
    with op.batch_alter_table("datasets") as batch:
        batch.drop_column("project_id")
    op.create_table(
        "users_one_project",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("traits", sa.JSON(), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_seen", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        "INSERT INTO users_one_project (id, traits, first_seen, last_seen) "
        "SELECT id, traits, first_seen, last_seen FROM users WHERE project_id = 'default'"
    )
    op.drop_table("users")
    op.rename_table("users_one_project", "users")
