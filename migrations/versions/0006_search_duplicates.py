"""Search and duplicates

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26

An index on contacts' first names beside the existing (tenant, last name) and (tenant, account name) ones, for
prefix candidates of typo-tolerant search (no pg_trgm: PostgreSQL 15+ without extensions; plain columns, as under
row-level security an index on lower(...) is unusable: lower() is not leakproof), and `merged_into_id` on contacts
and accounts for reversible merges.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("contacts", sa.Column("merged_into_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "contacts_merged_into_id_fkey", "contacts", "contacts", ["merged_into_id"], ["id"], ondelete="SET NULL"
    )
    op.add_column("accounts", sa.Column("merged_into_id", sa.Uuid(), nullable=True))
    op.create_foreign_key(
        "accounts_merged_into_id_fkey", "accounts", "accounts", ["merged_into_id"], ["id"], ondelete="SET NULL"
    )
    op.create_index(
        "ix_contacts_tenant_first_name",
        "contacts",
        ["tenant_id", "first_name"],
        postgresql_where=sa.text("deleted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_contacts_tenant_first_name", table_name="contacts")
    op.drop_constraint("accounts_merged_into_id_fkey", "accounts", type_="foreignkey")
    op.drop_column("accounts", "merged_into_id")
    op.drop_constraint("contacts_merged_into_id_fkey", "contacts", type_="foreignkey")
    op.drop_column("contacts", "merged_into_id")
