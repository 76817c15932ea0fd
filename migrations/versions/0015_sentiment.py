"""Sentiment of customer text: the label of each note and activity, the tenant's corrections

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-27

`text_sentiments` is derived data the worker rewrites at any time (not audited); `sentiment_examples` are people's
work (one-click corrections): audited, versioned, with updated_at.
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

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AUDITED = ["sentiment_examples"]
TABLES = [*AUDITED, "text_sentiments"]
LABELS = "('negative', 'neutral', 'positive')"
ENTITY_TYPES = "('notes', 'activities')"


def upgrade() -> None:
    op.create_table(
        "sentiment_examples",
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("label", sa.String(length=10), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("entity_type", sa.String(length=20), nullable=True),
        sa.Column("entity_id", sa.Uuid(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("version", sa.Integer(), server_default="1", nullable=False),
        sa.CheckConstraint(f"label IN {LABELS}", name="ck_sentiment_examples_label"),
        sa.CheckConstraint(
            f"entity_type IS NULL OR entity_type IN {ENTITY_TYPES}", name="ck_sentiment_examples_entity_type"
        ),
        sa.CheckConstraint("length(btrim(text)) > 0", name="ck_sentiment_examples_text"),
        sa.CheckConstraint("length(content_hash) = 64", name="ck_sentiment_examples_hash"),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("uq_sentiment_examples_text", "sentiment_examples", ["tenant_id", "content_hash"], unique=True)
    op.create_index("ix_sentiment_examples_tenant_label", "sentiment_examples", ["tenant_id", "label"], unique=False)
    op.create_table(
        "text_sentiments",
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("entity_id", sa.Uuid(), nullable=False),
        sa.Column("label", sa.String(length=10), nullable=False),
        sa.Column("score", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column("confidence", sa.Numeric(precision=5, scale=4), nullable=False),
        sa.Column(
            "probabilities",
            postgresql.JSONB(astext_type=sa.Text()),
            server_default=sa.text("'{}'::jsonb"),
            nullable=False,
        ),
        sa.Column("sentence", sa.Text(), server_default="", nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=True),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("corrected_label", sa.String(length=10), nullable=True),
        sa.Column("example_id", sa.Uuid(), nullable=True),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("source_updated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("computed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint(f"entity_type IN {ENTITY_TYPES}", name="ck_text_sentiments_entity_type"),
        sa.CheckConstraint(f"label IN {LABELS}", name="ck_text_sentiments_label"),
        sa.CheckConstraint(
            f"corrected_label IS NULL OR corrected_label IN {LABELS}", name="ck_text_sentiments_corrected_label"
        ),
        sa.CheckConstraint("score BETWEEN -1 AND 1", name="ck_text_sentiments_score"),
        sa.CheckConstraint("confidence BETWEEN 0 AND 1", name="ck_text_sentiments_confidence"),
        sa.CheckConstraint("length(content_hash) = 64", name="ck_text_sentiments_hash"),
        sa.ForeignKeyConstraint(["example_id"], ["sentiment_examples.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["model_id"], ["ml_models.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_text_sentiments_entity", "text_sentiments", ["tenant_id", "entity_type", "entity_id"], unique=True
    )
    op.create_index(
        "ix_text_sentiments_tenant_source",
        "text_sentiments",
        ["tenant_id", "entity_type", "source_updated_at"],
        unique=False,
    )
    op.create_index("ix_text_sentiments_model", "text_sentiments", ["model_id"], unique=False)
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
    op.drop_index("ix_text_sentiments_model", table_name="text_sentiments")
    op.drop_index("ix_text_sentiments_tenant_source", table_name="text_sentiments")
    op.drop_index("uq_text_sentiments_entity", table_name="text_sentiments")
    op.drop_table("text_sentiments")
    op.drop_index("ix_sentiment_examples_tenant_label", table_name="sentiment_examples")
    op.drop_index("uq_sentiment_examples_text", table_name="sentiment_examples")
    op.drop_table("sentiment_examples")
