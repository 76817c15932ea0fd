"""Churn risk of customer accounts: `churn_risks`, one current row per account (derived, not audited)

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-27

Written by the worker (ai/insights/churn.py) and rewritten at any time, like `lead_scores`: row-level security,
no audit trigger, no updated_at (each row carries its `computed_at`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import disable_tenant_rls, enable_tenant_rls

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "churn_risks",
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("model_version", sa.String(length=50), nullable=False),
        sa.Column("method", sa.String(length=10), nullable=False),
        sa.Column("probability", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column(
            "reasons", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column(
            "features", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("probability BETWEEN 0 AND 1", name="ck_churn_risks_probability"),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name="ck_churn_risks_score"),
        sa.CheckConstraint("method IN ('model', 'rules')", name="ck_churn_risks_method"),
        sa.CheckConstraint("length(btrim(model_version)) > 0", name="ck_churn_risks_version"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_id"], ["ml_models.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_churn_risks_tenant_account", "churn_risks", ["tenant_id", "account_id"], unique=True)
    op.create_index("ix_churn_risks_tenant_score", "churn_risks", ["tenant_id", "score"], unique=False)
    op.create_index("ix_churn_risks_model", "churn_risks", ["model_id"], unique=False)
    enable_tenant_rls("churn_risks")


def downgrade() -> None:
    disable_tenant_rls("churn_risks")
    op.drop_index("ix_churn_risks_model", table_name="churn_risks")
    op.drop_index("ix_churn_risks_tenant_score", table_name="churn_risks")
    op.drop_index("uq_churn_risks_tenant_account", table_name="churn_risks")
    op.drop_table("churn_risks")
