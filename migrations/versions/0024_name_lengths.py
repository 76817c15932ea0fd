"""Names indexed by their length, for search's typo tolerance; length(text) marked LEAKPROOF

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-27

Search offers names that share a query word's first two letters and are within one letter of its length (a typo in
the third letter, core/search/service.py). With only `(tenant_id, name)` indexes PostgreSQL read every name with
those two letters: 100,000 contacts for "Ma" in a workspace of a million, about 150 ms of every search. Indexes on
`(tenant_id, length(name), name)` find exactly the names of the three lengths wanted.

Under row-level security a condition can use an index only if its functions are LEAKPROOF; `length(text)` raises
no data-dependent error, so marking it is safe. It needs a superuser: without one (a managed server) it is left as
it is, and the typo candidates stay correct but are read from the prefix indexes, as before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDEXES = (
    ("ix_contacts_tenant_last_name_length", "contacts", "last_name"),
    ("ix_contacts_tenant_first_name_length", "contacts", "first_name"),
    ("ix_accounts_tenant_name_length", "accounts", "name"),
)

_SET = """
DO $$
BEGIN
    IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
        ALTER FUNCTION pg_catalog.length(text) {mark};
    ELSE
        RAISE NOTICE 'not a superuser: length(text) left as it is (typo candidates cannot use their index under RLS)';
    END IF;
END $$
"""


def upgrade() -> None:
    op.execute(_SET.format(mark="LEAKPROOF"))
    for name, table, column in INDEXES:
        op.create_index(
            name,
            table,
            ["tenant_id", sa.text(f"length({column})"), column],
            postgresql_where=sa.text("deleted_at IS NULL"),
        )
    for table in ("contacts", "accounts"):  # statistics of the new expressions, so the planner knows their sizes
        op.execute(f"ANALYZE {table}")


def downgrade() -> None:
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
    op.execute(_SET.format(mark="NOT LEAKPROOF"))
