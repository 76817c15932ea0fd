"""Insights: anomalies found in deals and activity, and the tenant's insight settings (churn risk is 0019)

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-27

`anomalies` is derived data the worker rewrites (not audited; a dismissal keeps who and when); `insight_settings`
holds people's thresholds: audited, versioned, with updated_at.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import (
    attach_audit,
    attach_updated_at,
    detach_audit,
    detach_updated_at,
    disable_tenant_rls,
    enable_tenant_rls,
)

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CODES = (
    "amount_outlier",
    "close_date_pushed",
    "stage_backwards",
    "stage_skipped",
    "late_discount",
    "rep_activity_drop",
    "rep_win_rate_drop",
    "account_engagement_drop",
)
AUDITED = ["insight_settings"]
TABLES = ["anomalies", *AUDITED]


def upgrade() -> None:
    op.create_table(
        "anomalies",
        sa.Column("code", sa.String(length=40), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("severity", sa.String(length=10), nullable=False),
        sa.Column("score", sa.Numeric(precision=10, scale=3), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column(
            "details", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("model", sa.String(length=50), nullable=False),
        sa.Column("model_version", sa.String(length=50), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("detected_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("dismissed_by", sa.Uuid(), nullable=True),
        sa.Column("dismissed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(f"code IN {CODES}", name="ck_anomalies_code"),
        sa.CheckConstraint("entity_type IN ('deals', 'accounts', 'users')", name="ck_anomalies_entity_type"),
        sa.CheckConstraint("severity IN ('low', 'medium', 'high')", name="ck_anomalies_severity"),
        sa.CheckConstraint("status IN ('open', 'dismissed', 'resolved')", name="ck_anomalies_status"),
        sa.CheckConstraint("length(btrim(reason)) > 0", name="ck_anomalies_reason"),
        sa.CheckConstraint("(status = 'dismissed') = (dismissed_at IS NOT NULL)", name="ck_anomalies_dismissed"),
        sa.ForeignKeyConstraint(["dismissed_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_anomalies_tenant_code_entity", "anomalies", ["tenant_id", "code", "entity_type", "entity_id"], unique=True
    )
    op.create_index("ix_anomalies_tenant_entity", "anomalies", ["tenant_id", "entity_type", "entity_id"], unique=False)
    op.create_index(
        "ix_anomalies_tenant_status_detected", "anomalies", ["tenant_id", "status", "detected_at"], unique=False
    )
    op.create_table(
        "insight_settings",
        sa.Column("amount_z", sa.Numeric(precision=4, scale=1), server_default="3.5", nullable=False),
        sa.Column("amount_min_group", sa.Integer(), server_default="8", nullable=False),
        sa.Column("close_push_min", sa.Integer(), server_default="2", nullable=False),
        sa.Column("skip_min_stages", sa.Integer(), server_default="2", nullable=False),
        sa.Column("late_cut_pct", sa.Integer(), server_default="25", nullable=False),
        sa.Column("late_stages", sa.Integer(), server_default="2", nullable=False),
        sa.Column("window_days", sa.Integer(), server_default="30", nullable=False),
        sa.Column("baseline_days", sa.Integer(), server_default="180", nullable=False),
        sa.Column("rep_activity_drop_pct", sa.Integer(), server_default="60", nullable=False),
        sa.Column("rep_min_baseline", sa.Integer(), server_default="20", nullable=False),
        sa.Column("rep_win_p", sa.Numeric(precision=5, scale=4), server_default="0.01", nullable=False),
        sa.Column("rep_min_closed", sa.Integer(), server_default="8", nullable=False),
        sa.Column("win_window_days", sa.Integer(), server_default="90", nullable=False),
        sa.Column("engagement_drop_pct", sa.Integer(), server_default="75", nullable=False),
        sa.Column("engagement_min_baseline", sa.Integer(), server_default="6", nullable=False),
        sa.Column("lookback_days", sa.Integer(), server_default="120", nullable=False),
        sa.Column("disabled_codes", postgresql.ARRAY(sa.String(length=40)), server_default="{}", nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint("amount_z BETWEEN 2 AND 20", name="ck_insight_settings_amount_z"),
        sa.CheckConstraint("amount_min_group BETWEEN 3 AND 1000", name="ck_insight_settings_amount_group"),
        sa.CheckConstraint("close_push_min BETWEEN 1 AND 20", name="ck_insight_settings_pushes"),
        sa.CheckConstraint("skip_min_stages BETWEEN 1 AND 20", name="ck_insight_settings_skip"),
        sa.CheckConstraint(
            "late_cut_pct BETWEEN 5 AND 95 AND late_stages BETWEEN 1 AND 10", name="ck_insight_settings_late"
        ),
        sa.CheckConstraint(
            "window_days BETWEEN 7 AND 180 AND baseline_days BETWEEN 30 AND 730", name="ck_insight_settings_windows"
        ),
        sa.CheckConstraint(
            "rep_activity_drop_pct BETWEEN 10 AND 100 AND rep_min_baseline BETWEEN 1 AND 100000",
            name="ck_insight_settings_rep_activity",
        ),
        sa.CheckConstraint(
            "rep_win_p > 0 AND rep_win_p <= 0.2 AND rep_min_closed BETWEEN 3 AND 10000"
            " AND win_window_days BETWEEN 30 AND 365",
            name="ck_insight_settings_rep_win",
        ),
        sa.CheckConstraint(
            "engagement_drop_pct BETWEEN 10 AND 100 AND engagement_min_baseline BETWEEN 1 AND 100000",
            name="ck_insight_settings_engagement",
        ),
        sa.CheckConstraint("lookback_days BETWEEN 7 AND 3650", name="ck_insight_settings_lookback"),
        sa.CheckConstraint(
            "disabled_codes <@ ARRAY[" + ", ".join(f"'{c}'" for c in CODES) + "]::varchar[]",
            name="ck_insight_settings_codes",
        ),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_insight_settings_tenant", "insight_settings", ["tenant_id"], unique=True)
    for table in TABLES:
        enable_tenant_rls(table)
    for table in AUDITED:
        attach_audit(table)
        attach_updated_at(table)


def downgrade() -> None:
    for table in AUDITED:
        detach_updated_at(table)
        detach_audit(table)
    for table in TABLES:
        disable_tenant_rls(table)
    op.drop_index("uq_insight_settings_tenant", table_name="insight_settings")
    op.drop_table("insight_settings")
    op.drop_index("ix_anomalies_tenant_status_detected", table_name="anomalies")
    op.drop_index("ix_anomalies_tenant_entity", table_name="anomalies")
    op.drop_index("uq_anomalies_tenant_code_entity", table_name="anomalies")
    op.drop_table("anomalies")
