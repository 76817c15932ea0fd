"""Lead scoring: every score given (the seed's lead_scores), points rules, per-tenant scoring settings

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26

`lead_scores` is derived data the worker rewrites at any time (not audited); `scoring_rules` and
`scoring_settings` are people's work: audited, versioned, with updated_at. `contacts.lead_score` becomes derived
too (the worker writes it with every rescoring; `lead_scores` is its history), so the audit of updates ignores it;
the audit function is also fenced so that a bulk update costs microseconds a row, not milliseconds.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import (
    AUDIT_IGNORED_COLUMNS,
    attach_audit,
    attach_updated_at,
    audit_update_function,
    detach_audit,
    detach_updated_at,
    disable_tenant_rls,
    enable_tenant_rls,
)

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDITED = ["scoring_rules", "scoring_settings"]
TABLES = ["lead_scores", *AUDITED]


def upgrade() -> None:
    op.create_table(
        "lead_scores",
        sa.Column("contact_id", sa.Uuid(), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("confidence", sa.Numeric(precision=5, scale=4), nullable=True),
        sa.Column(
            "factors", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'[]'::jsonb"), nullable=False
        ),
        sa.Column("predicted_conversion_probability", sa.Numeric(precision=5, scale=4), nullable=True),
        sa.Column("predicted_revenue", sa.Numeric(precision=15, scale=2), nullable=True),
        sa.Column("arm", sa.String(length=10), server_default="champion", nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("score BETWEEN 0 AND 100", name="ck_lead_scores_score"),
        sa.CheckConstraint("confidence IS NULL OR confidence BETWEEN 0 AND 1", name="ck_lead_scores_confidence"),
        sa.CheckConstraint(
            "predicted_conversion_probability IS NULL OR predicted_conversion_probability BETWEEN 0 AND 1",
            name="ck_lead_scores_probability",
        ),
        sa.CheckConstraint("predicted_revenue IS NULL OR predicted_revenue >= 0", name="ck_lead_scores_revenue"),
        sa.CheckConstraint("arm IN ('champion', 'challenger')", name="ck_lead_scores_arm"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["model_id"], ["ml_models.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_lead_scores_tenant_contact_scored", "lead_scores", ["tenant_id", "contact_id", "scored_at"], unique=False
    )
    op.create_index("ix_lead_scores_tenant_score", "lead_scores", ["tenant_id", "score"], unique=False)
    op.create_index("ix_lead_scores_model", "lead_scores", ["model_id"], unique=False)
    op.create_table(
        "scoring_rules",
        sa.Column("field", sa.String(length=100), nullable=False),
        sa.Column("operator", sa.String(length=20), nullable=False),
        sa.Column("value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("label", sa.String(length=200), nullable=True),
        sa.Column("is_active", sa.Boolean(), server_default="true", nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(
            "operator IN ('equals', 'not_equals', 'in', 'contains', 'gt', 'gte', 'lt', 'lte', 'is_set', 'is_not_set')",
            name="ck_scoring_rules_operator",
        ),
        sa.CheckConstraint("points BETWEEN -100 AND 100 AND points <> 0", name="ck_scoring_rules_points"),
        sa.CheckConstraint("length(btrim(field)) > 0", name="ck_scoring_rules_field"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_scoring_rules_tenant", "scoring_rules", ["tenant_id", "field"], unique=False)
    op.create_table(
        "scoring_settings",
        sa.Column("converted_stages", postgresql.ARRAY(sa.String(length=50)), nullable=False),
        sa.Column("idle_days", sa.Integer(), server_default="90", nullable=False),
        sa.Column("min_outcomes", sa.Integer(), server_default="200", nullable=False),
        sa.Column("min_conversions", sa.Integer(), server_default="30", nullable=False),
        sa.Column("rules_base", sa.Integer(), server_default="20", nullable=False),
        sa.Column("challenger_model_id", sa.Uuid(), nullable=True),
        sa.Column("challenger_share", sa.Numeric(precision=3, scale=2), server_default="0.5", nullable=False),
        sa.Column("retrain_every_days", sa.Integer(), server_default="7", nullable=False),
        sa.Column("rescored_through", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("idle_days BETWEEN 7 AND 3650", name="ck_scoring_settings_idle"),
        sa.CheckConstraint("min_outcomes >= 20 AND min_conversions >= 5", name="ck_scoring_settings_thresholds"),
        sa.CheckConstraint("rules_base BETWEEN 0 AND 100", name="ck_scoring_settings_base"),
        sa.CheckConstraint("challenger_share BETWEEN 0 AND 1", name="ck_scoring_settings_share"),
        sa.CheckConstraint("retrain_every_days BETWEEN 1 AND 365", name="ck_scoring_settings_retrain"),
        sa.ForeignKeyConstraint(["challenger_model_id"], ["ml_models.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_scoring_settings_tenant", "scoring_settings", ["tenant_id"], unique=True)
    for table in TABLES:
        enable_tenant_rls(table)
    for table in AUDITED:
        attach_audit(table)
        attach_updated_at(table)
    op.execute(audit_update_function((*AUDIT_IGNORED_COLUMNS, "lead_score")))


def downgrade() -> None:
    op.execute(audit_update_function(AUDIT_IGNORED_COLUMNS))
    for table in AUDITED:
        detach_updated_at(table)
        detach_audit(table)
    for table in TABLES:
        disable_tenant_rls(table)
    op.drop_index("uq_scoring_settings_tenant", table_name="scoring_settings")
    op.drop_table("scoring_settings")
    op.drop_index("ix_scoring_rules_tenant", table_name="scoring_rules")
    op.drop_table("scoring_rules")
    op.drop_index("ix_lead_scores_model", table_name="lead_scores")
    op.drop_index("ix_lead_scores_tenant_score", table_name="lead_scores")
    op.drop_index("ix_lead_scores_tenant_contact_scored", table_name="lead_scores")
    op.drop_table("lead_scores")
