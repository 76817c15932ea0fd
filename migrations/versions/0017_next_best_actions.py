"""Next best actions: the open actions per deal and lead (derived), and the users' decisions on them

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-27

`next_best_actions` is derived data the worker rewrites at any time (not audited): the actions whose condition
holds now, with expected value, reason, the record change they imply, and the model/version that computed them.
`next_action_decisions` is people's work (audited): who took or ignored which action, when, and the record the
taking created. Its unique `condition_key` is what keeps a decided action from coming back for the same
condition.
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

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KINDS = "('follow_up_rotting', 'schedule_next_step', 'reengage_champion', 'multi_thread', 'call_hot_lead')"
AUDITED = ["next_action_decisions"]
TABLES = ["next_best_actions", *AUDITED]


def upgrade() -> None:
    op.create_table(
        "next_best_actions",
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("deal_id", sa.Uuid(), nullable=True),
        sa.Column("contact_id", sa.Uuid(), nullable=True),
        sa.Column("account_id", sa.Uuid(), nullable=True),
        sa.Column("condition_key", sa.String(length=200), nullable=False),
        sa.Column("title", sa.String(length=255), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expected_value", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("amount", sa.Numeric(precision=15, scale=2), nullable=True),
        sa.Column("currency", sa.String(length=3), server_default="USD", nullable=False),
        sa.Column("win_probability", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("uplift", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("change", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column(
            "evidence", postgresql.JSONB(astext_type=sa.Text()), server_default=sa.text("'{}'::jsonb"), nullable=False
        ),
        sa.Column("model_id", sa.Uuid(), nullable=True),
        sa.Column("model_version", sa.String(length=50), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_next_best_actions_kind"),
        sa.CheckConstraint(
            "(entity_type = 'deals' AND deal_id IS NOT NULL)"
            " OR (entity_type = 'contacts' AND contact_id IS NOT NULL AND deal_id IS NULL)",
            name="ck_next_best_actions_entity",
        ),
        sa.CheckConstraint("expected_value >= 0", name="ck_next_best_actions_value"),
        sa.CheckConstraint("amount IS NULL OR amount >= 0", name="ck_next_best_actions_amount"),
        sa.CheckConstraint("win_probability BETWEEN 0 AND 1", name="ck_next_best_actions_probability"),
        sa.CheckConstraint("uplift BETWEEN 0 AND 1", name="ck_next_best_actions_uplift"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="ck_next_best_actions_currency"),
        sa.CheckConstraint("jsonb_typeof(change) = 'object'", name="ck_next_best_actions_change"),
        sa.ForeignKeyConstraint(["deal_id"], ["deals.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["model_id"], ["ml_models.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_next_best_actions_condition", "next_best_actions", ["tenant_id", "condition_key"], unique=True)
    op.create_index(
        "ix_next_best_actions_owner_value", "next_best_actions", ["tenant_id", "owner_id", "expected_value"]
    )
    op.create_index("ix_next_best_actions_deal", "next_best_actions", ["tenant_id", "deal_id"])
    op.create_index("ix_next_best_actions_contact", "next_best_actions", ["tenant_id", "contact_id"])
    op.create_table(
        "next_action_decisions",
        sa.Column("action_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=30), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("condition_key", sa.String(length=200), nullable=False),
        sa.Column("decision", sa.String(length=10), nullable=False),
        sa.Column("expected_value", sa.Numeric(precision=15, scale=2), nullable=False),
        sa.Column("model_version", sa.String(length=50), nullable=False),
        sa.Column("record_type", sa.String(length=20), nullable=True),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("owner_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint(f"kind IN {KINDS}", name="ck_next_action_decisions_kind"),
        sa.CheckConstraint("entity_type IN ('deals', 'contacts')", name="ck_next_action_decisions_entity"),
        sa.CheckConstraint("decision IN ('taken', 'ignored')", name="ck_next_action_decisions_decision"),
        sa.CheckConstraint("expected_value >= 0", name="ck_next_action_decisions_value"),
        sa.CheckConstraint(
            "(decision = 'taken') = (record_id IS NOT NULL AND record_type IS NOT NULL)",
            name="ck_next_action_decisions_record",
        ),
        sa.CheckConstraint("record_type IS NULL OR record_type IN ('tasks')", name="ck_next_action_decisions_type"),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["owner_id"], ["users.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_next_action_decisions_condition", "next_action_decisions", ["tenant_id", "condition_key"], unique=True
    )
    op.create_index("ix_next_action_decisions_action", "next_action_decisions", ["tenant_id", "action_id"])
    op.create_index("ix_next_action_decisions_created", "next_action_decisions", ["tenant_id", "created_at"])
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
    op.drop_index("ix_next_action_decisions_created", table_name="next_action_decisions")
    op.drop_index("ix_next_action_decisions_action", table_name="next_action_decisions")
    op.drop_index("uq_next_action_decisions_condition", table_name="next_action_decisions")
    op.drop_table("next_action_decisions")
    op.drop_index("ix_next_best_actions_contact", table_name="next_best_actions")
    op.drop_index("ix_next_best_actions_deal", table_name="next_best_actions")
    op.drop_index("ix_next_best_actions_owner_value", table_name="next_best_actions")
    op.drop_index("uq_next_best_actions_condition", table_name="next_best_actions")
    op.drop_table("next_best_actions")
