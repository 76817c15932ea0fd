"""Indexes on three foreign keys that had none

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-27

Deleting a contact or an account makes PostgreSQL find the rows that reference it: the duplicates merged into it
(`merged_into_id`, ON DELETE SET NULL) and, for an account, its next best actions. Without an index each deleted
record read the whole table, so deleting a tenant of 100,000 contacts (or a bulk delete) took minutes. Merged
records are few: their indexes are partial.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MERGED = ("contacts", "accounts")


def upgrade() -> None:
    for table in MERGED:
        op.create_index(
            f"ix_{table}_merged_into",
            table,
            ["merged_into_id"],
            postgresql_where=sa.text("merged_into_id IS NOT NULL"),
        )
    op.create_index("ix_next_best_actions_account", "next_best_actions", ["account_id"])


def downgrade() -> None:
    op.drop_index("ix_next_best_actions_account", table_name="next_best_actions")
    for table in MERGED:
        op.drop_index(f"ix_{table}_merged_into", table_name=table)
