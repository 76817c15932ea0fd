"""Enrichment: field suggestions (proposed values for contacts' and accounts' fields) and the pass watermark

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-27

`field_suggestions` is derived data the worker rewrites (not audited: accepting one writes the record through
its service, which is audited); rejected rows stay so that the same suggestion is never made again.
`enrichment_state` holds, per tenant, how far the pass over changed contacts and accounts has got.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.helpers import attach_updated_at, detach_updated_at, disable_tenant_rls, enable_tenant_rls

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ["field_suggestions", "enrichment_state"]


def upgrade() -> None:
    op.create_table(
        "field_suggestions",
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("field", sa.String(length=50), nullable=False),
        sa.Column("current_value", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("suggested_value", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("suggested_label", sa.String(length=300), nullable=False),
        sa.Column("confidence", sa.Numeric(precision=4, scale=3), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("source", sa.String(length=100), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=True),
        sa.Column("fingerprint", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=10), server_default="open", nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("entity_type IN ('contacts', 'accounts')", name="ck_field_suggestions_entity_type"),
        sa.CheckConstraint("status IN ('open', 'accepted', 'rejected')", name="ck_field_suggestions_status"),
        sa.CheckConstraint("confidence BETWEEN 0 AND 1", name="ck_field_suggestions_confidence"),
        sa.CheckConstraint("length(btrim(reason)) > 0", name="ck_field_suggestions_reason"),
        sa.CheckConstraint("(status = 'open') = (decided_at IS NULL)", name="ck_field_suggestions_decided"),
        sa.ForeignKeyConstraint(["decided_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_field_suggestions_proposal",
        "field_suggestions",
        ["tenant_id", "entity_type", "entity_id", "field", "fingerprint"],
        unique=True,
    )
    op.create_index(
        "ix_field_suggestions_tenant_status", "field_suggestions", ["tenant_id", "status", "computed_at"], unique=False
    )
    op.create_table(
        "enrichment_state",
        sa.Column("enriched_through", sa.DateTime(timezone=True), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_enrichment_state_tenant", "enrichment_state", ["tenant_id"], unique=True)
    for table in TABLES:
        enable_tenant_rls(table)
        attach_updated_at(table)


def downgrade() -> None:
    for table in TABLES:
        detach_updated_at(table)
        disable_tenant_rls(table)
    op.drop_index("uq_enrichment_state_tenant", table_name="enrichment_state")
    op.drop_table("enrichment_state")
    op.drop_index("ix_field_suggestions_tenant_status", table_name="field_suggestions")
    op.drop_index("uq_field_suggestions_proposal", table_name="field_suggestions")
    op.drop_table("field_suggestions")
