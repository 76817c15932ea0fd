"""Imports

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27

CSV/XLSX imports run as jobs: `imports` (what was detected, the column mapping, progress and counts; audited),
`import_files` (the uploaded bytes until the import finishes; not audited: the audit trail would copy them) and
`import_rows` (rows that failed or were skipped, for the user to review); all under row-level security.
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

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ["imports", "import_files", "import_rows"]


def upgrade() -> None:
    op.create_table(
        "imports",
        sa.Column("entity_type", sa.String(length=20), nullable=False),
        sa.Column("duplicate_policy", sa.String(length=10), nullable=False),
        sa.Column("status", sa.String(length=20), server_default="queued", nullable=False),
        sa.Column("file_name", sa.String(length=255), nullable=True),
        sa.Column("file_format", sa.String(length=10), nullable=False),
        sa.Column("file_size", sa.BigInteger(), nullable=False),
        sa.Column("encoding", sa.String(length=40), nullable=True),
        sa.Column("has_bom", sa.Boolean(), nullable=True),
        sa.Column("delimiter", sa.String(length=4), nullable=True),
        sa.Column("headers", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("columns", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("unmapped", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("processed_rows", sa.Integer(), server_default="0", nullable=False),
        sa.Column("created_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("updated_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("skipped_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("failed_count", sa.Integer(), server_default="0", nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("job_id", sa.Uuid(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.CheckConstraint("duplicate_policy IN ('skip', 'update', 'create')", name="ck_imports_duplicate_policy"),
        sa.CheckConstraint("entity_type IN ('contacts', 'accounts')", name="ck_imports_entity_type"),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed', 'cancelled')", name="ck_imports_status"
        ),
        sa.ForeignKeyConstraint(["created_by"], ["users.id"]),
        sa.ForeignKeyConstraint(["job_id"], ["jobs.id"], ondelete="SET NULL"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_imports_tenant_created", "imports", ["tenant_id", "created_at"], unique=False)
    op.create_table(
        "import_files",
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["import_id"], ["imports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("import_id"),
    )
    op.create_table(
        "import_rows",
        sa.Column("import_id", sa.Uuid(), nullable=False),
        sa.Column("row_number", sa.Integer(), nullable=False),
        sa.Column("outcome", sa.String(length=10), nullable=False),
        sa.Column("field", sa.String(length=100), nullable=True),
        sa.Column("column", sa.Text(), nullable=True),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("values", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("record_id", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("outcome IN ('failed', 'skipped')", name="ck_import_rows_outcome"),
        sa.ForeignKeyConstraint(["import_id"], ["imports.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_import_rows_import", "import_rows", ["tenant_id", "import_id", "outcome", "row_number"], unique=False
    )

    for table in TABLES:
        enable_tenant_rls(table)
    attach_audit("imports")
    attach_updated_at("imports")


def downgrade() -> None:
    detach_updated_at("imports")
    detach_audit("imports")
    for table in TABLES:
        disable_tenant_rls(table)
    op.drop_index("ix_import_rows_import", table_name="import_rows")
    op.drop_table("import_rows")
    op.drop_table("import_files")
    op.drop_index("ix_imports_tenant_created", table_name="imports")
    op.drop_table("imports")
