"""index generations by experiment arm, for experiment evaluation; the reply's mean token
log-probability, for active learning

Revision ID: 0012
Revises: 0011
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("generations", sa.Column("mean_logprob", sa.Float()))
    op.create_index("ix_generations_project_arm", "generations", ["project_id", "experiment_arm"])


def downgrade() -> None:
    op.drop_index("ix_generations_project_arm", "generations")
    with op.batch_alter_table("generations") as batch:
        batch.drop_column("mean_logprob")
