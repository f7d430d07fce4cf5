"""campaign sends (the bandit's decisions and their clicks) and campaign states

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-30
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "campaign_sends",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), nullable=False),
        sa.Column("campaign", sa.String(100), nullable=False),
        sa.Column("send_id", sa.String(32), nullable=False),
        sa.Column("user_key", sa.String(255), nullable=False),
        sa.Column("block", sa.String(100), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("propensity", sa.Float(), nullable=False),
        sa.Column("policy", sa.String(32), nullable=False),
        sa.Column("context", sa.JSON(), nullable=False),
        sa.Column("link", sa.Text(), nullable=False),
        sa.Column("generation_id", sa.String(32)),
        sa.Column("clicked_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("send_id", "block", name="uq_campaign_sends_send_block"),
    )
    op.create_index(
        "ix_campaign_sends_campaign_user", "campaign_sends", ["project_id", "campaign", "user_key"]
    )
    op.create_index(
        "ix_campaign_sends_campaign_id", "campaign_sends", ["project_id", "campaign", "id"]
    )
    op.create_table(
        "campaign_states",
        sa.Column("project_id", sa.String(64), sa.ForeignKey("projects.id"), primary_key=True),
        sa.Column("campaign", sa.String(100), primary_key=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("send_cursor", sa.Integer(), nullable=False),
        sa.Column("event_cursor", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("campaign_states")
    op.drop_index("ix_campaign_sends_campaign_id", "campaign_sends")
    op.drop_index("ix_campaign_sends_campaign_user", "campaign_sends")
    op.drop_table("campaign_sends")
